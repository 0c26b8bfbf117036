"""linux.sysctl: only settings of namespaces the container has of its own.

/proc/sys is the host's for every setting that no namespace holds (fs.*, vm.*, most of
kernel.*: kernel.core_pattern names a program the host runs as root), so a runtime
must refuse those. The rules and the words are runc's (libcontainer's config validator),
which is what Docker users see: net.* in a network namespace of the container's own,
the System V IPC and POSIX mqueue settings in an IPC namespace of its own,
kernel.domainname in a UTS namespace of its own (kernel.hostname never: the spec's
hostname field sets it); anything else is refused.
"""

from __future__ import annotations

import os

from darse.errors import InvalidArgument

IPC_SYSCTLS = frozenset({"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
                         "kernel.shmall", "kernel.shmmax", "kernel.shmmni",
                         "kernel.shm_rmid_forced"})
_PROC_NS = {"network": "net", "ipc": "ipc", "uts": "uts"}


def _is_hosts(kind: str, path: str | None) -> bool:
    """A namespace joined by path that is the caller's own (the host's, for darse)."""
    if not path:
        return False
    try:
        mine, theirs = os.stat(f"/proc/self/ns/{_PROC_NS[kind]}"), os.stat(path)
    except OSError:
        return False  # unreadable: whoever joins it will fail with a clearer error
    return (mine.st_dev, mine.st_ino) == (theirs.st_dev, theirs.st_ino)


def check(key: str, namespaces: dict[str, str | None]) -> None:
    """Refuse key unless it belongs to a namespace of the container's own.

    namespaces: {type: path to join, or None for a new one}, as linux.namespaces says.
    """
    parts = key.split(".")
    if "/" in key or any(p in ("", "..") for p in parts):
        # Dots are the separators; a slash or an empty part could walk out of the
        # setting's directory under /proc/sys.
        raise InvalidArgument(f"sysctl {key!r} is not a valid sysctl name")

    def own(kind: str) -> bool:
        return kind in namespaces and not _is_hosts(kind, namespaces[kind])

    if key in IPC_SYSCTLS or key.startswith("fs.mqueue."):
        if own("ipc"):
            return
        raise InvalidArgument(f'sysctl "{key}" is not allowed in the hosts ipc namespace')
    if key.startswith("net."):
        if own("network"):
            return
        raise InvalidArgument(f'sysctl "{key}" not allowed in host network namespace')
    if own("uts"):
        if key == "kernel.domainname":
            return
        if key == "kernel.hostname":
            raise InvalidArgument(f'sysctl "{key}" is not allowed as it conflicts with the '
                                  'OCI "hostname" field')
    raise InvalidArgument(f'sysctl "{key}" is not in a separate kernel namespace')


def validate(linux: dict) -> None:
    """Every key of linux.sysctl, against the spec's linux.namespaces."""
    namespaces = {ns["type"]: ns.get("path") or None for ns in linux.get("namespaces") or []}
    for key in linux.get("sysctl") or {}:
        check(key, namespaces)


def apply(settings: dict[str, str]) -> None:
    """Write them, in the container's namespaces (its /proc, before it is read-only)."""
    for key, value in settings.items():
        with open("/proc/sys/" + key.replace(".", "/"), "w") as f:
            f.write(str(value))
