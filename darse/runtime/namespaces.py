"""linux.namespaces: join by path, create new, and the fork a new pid namespace needs."""

from __future__ import annotations

import os

from darse import syscalls as sc

FLAGS = {"pid": sc.CLONE_NEWPID, "network": sc.CLONE_NEWNET, "mount": sc.CLONE_NEWNS,
         "ipc": sc.CLONE_NEWIPC, "uts": sc.CLONE_NEWUTS, "user": sc.CLONE_NEWUSER,
         "cgroup": sc.CLONE_NEWCGROUP, "time": sc.CLONE_NEWTIME}
PROC_NAMES = {"pid": "pid", "network": "net", "mount": "mnt", "ipc": "ipc", "uts": "uts",
              "user": "user", "cgroup": "cgroup", "time": "time"}
# The mount namespace last of the others (after it, /proc paths of the host may be out
# of sight); the user namespace as join() says.
JOIN_ORDER = ("user", "ipc", "uts", "network", "pid", "cgroup", "time", "mount")


def join(paths: dict[str, str]) -> None:
    """setns into each {type: path}; all files are opened first.

    A namespace owned by an outer user namespace (a network namespace darsed made before
    the container's user namespace existed) can only be joined before entering the
    container's user namespace: inside it, the outer one's rights are gone. One the
    caller cannot join yet (EPERM: a rootless caller) is joined after the user namespace,
    whose rights then allow it."""
    fds = {kind: os.open(paths[kind], os.O_RDONLY | os.O_CLOEXEC)
           for kind in JOIN_ORDER if kind in paths}
    try:
        later = []
        for kind, fd in fds.items():
            if kind == "user":
                continue
            try:
                sc.setns(fd, FLAGS[kind])
            except PermissionError:
                later.append(kind)
        if "user" in fds:
            sc.setns(fds["user"], FLAGS["user"])
        for kind in later:
            sc.setns(fds[kind], FLAGS[kind])
    finally:
        for fd in fds.values():
            os.close(fd)


def unshare(kinds: set[str]) -> None:
    flags = 0
    for kind in kinds:
        flags |= FLAGS[kind]
    if flags:
        sc.unshare(flags)


def of_process(pid: int, kinds: list[str]) -> dict[str, str]:
    """{type: /proc/PID/ns/NAME} for joining a running container's namespaces."""
    return {kind: f"/proc/{pid}/ns/{PROC_NAMES[kind]}" for kind in kinds}


def write_id_maps(pid: int, uid_maps: list[dict], gid_maps: list[dict]) -> None:
    """Written from the parent user namespace, which may map any id it owns."""
    for name, maps in (("uid_map", uid_maps), ("gid_map", gid_maps)):
        text = "".join(f"{m['containerID']} {m['hostID']} {m['size']}\n" for m in maps)
        with open(f"/proc/{pid}/{name}", "w") as f:
            f.write(text)
