"""A pod's namespaces without a process: a thread of darsed unshares the network, IPC and
UTS namespaces (each a per-thread property), sets the pod's hostname in the new UTS
namespace, and pins each one with a bind mount of its nsfs file, as `ip netns add` does
for a network namespace. The pod's containers join those paths; the namespaces live as
long as the pins, whatever runs in them."""

from __future__ import annotations

import os
import threading

from darse import syscalls
from darse.network import netns

KINDS = {"net": syscalls.CLONE_NEWNET, "ipc": syscalls.CLONE_NEWIPC,
         "uts": syscalls.CLONE_NEWUTS, "user": syscalls.CLONE_NEWUSER}


def pin(folder: str, kinds: tuple[str, ...], hostname: str) -> dict[str, str]:
    """New namespaces of each kind, pinned at folder/KIND; {kind: path}. Nothing is left
    pinned if one fails."""
    os.makedirs(folder, mode=0o700, exist_ok=True)
    paths = {kind: os.path.join(folder, kind) for kind in kinds}
    for path in paths.values():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o444))

    def make() -> None:
        flags = 0
        for kind in kinds:
            flags |= KINDS[kind]
        syscalls.unshare(flags)
        if "uts" in kinds and hostname:
            syscalls.sethostname(hostname)
        tid = threading.get_native_id()
        for kind, path in paths.items():
            syscalls.mount(f"/proc/self/task/{tid}/ns/{kind}", path, None, syscalls.MS_BIND)

    try:
        netns.in_thread(make)
        if "net" in paths:
            with netns.Inside(paths["net"]) as inside:
                inside.link_up("lo")
    except BaseException:
        unpin(folder)
        raise
    return paths


def unpin(folder: str) -> None:
    """Release the pins (the namespaces go once nothing else holds them)."""
    for kind in KINDS:
        path = os.path.join(folder, kind)
        try:
            syscalls.umount2(path, syscalls.MNT_DETACH)
        except OSError:
            pass  # not pinned (a failed pin, or unpinned before)
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def pin_process(folder: str, pid: int, kinds: tuple[str, ...]) -> dict[str, str]:
    """The namespaces of kinds a running process made (a pod's sandbox container), pinned
    at folder/KIND as pin() pins its own; {kind: path}. Nothing is left pinned if one
    fails."""
    os.makedirs(folder, mode=0o711, exist_ok=True)
    paths = {kind: os.path.join(folder, kind) for kind in kinds}
    try:
        for kind, path in paths.items():
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o444))
            syscalls.mount(f"/proc/{pid}/ns/{kind}", path, None, syscalls.MS_BIND)
        if "net" in paths:
            with netns.Inside(paths["net"]) as inside:
                inside.link_up("lo")
    except BaseException:
        unpin(folder)
        raise
    return paths
