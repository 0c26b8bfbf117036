"""The spec's mounts: option parsing, safe destinations inside the rootfs, each type.

Destinations are resolved inside the rootfs with every symlink clamped to it, so an
image cannot point a mount at the host (the attack runc's securejoin guards against).
"""

from __future__ import annotations

import errno
import os

from darse import syscalls as sc
from darse.errors import InvalidArgument

# option: (clear?, flag); the table mount(8) documents.
_FLAGS = {
    "defaults": (False, 0), "ro": (False, sc.MS_RDONLY), "rw": (True, sc.MS_RDONLY),
    "suid": (True, sc.MS_NOSUID), "nosuid": (False, sc.MS_NOSUID),
    "dev": (True, sc.MS_NODEV), "nodev": (False, sc.MS_NODEV),
    "exec": (True, sc.MS_NOEXEC), "noexec": (False, sc.MS_NOEXEC),
    "sync": (False, sc.MS_SYNCHRONOUS), "async": (True, sc.MS_SYNCHRONOUS),
    "dirsync": (False, sc.MS_DIRSYNC), "remount": (False, sc.MS_REMOUNT),
    "mand": (False, sc.MS_MANDLOCK), "nomand": (True, sc.MS_MANDLOCK),
    "atime": (True, sc.MS_NOATIME), "noatime": (False, sc.MS_NOATIME),
    "diratime": (True, sc.MS_NODIRATIME), "nodiratime": (False, sc.MS_NODIRATIME),
    "bind": (False, sc.MS_BIND), "rbind": (False, sc.MS_BIND | sc.MS_REC),
    "relatime": (False, sc.MS_RELATIME), "norelatime": (True, sc.MS_RELATIME),
    "strictatime": (False, sc.MS_STRICTATIME), "nostrictatime": (True, sc.MS_STRICTATIME),
    "silent": (False, sc.MS_SILENT), "loud": (True, sc.MS_SILENT),
    "nosymfollow": (False, sc.MS_NOSYMFOLLOW), "symfollow": (True, sc.MS_NOSYMFOLLOW),
    "lazytime": (False, sc.MS_LAZYTIME), "nolazytime": (True, sc.MS_LAZYTIME),
}
PROPAGATION = {
    "private": sc.MS_PRIVATE, "rprivate": sc.MS_PRIVATE | sc.MS_REC,
    "shared": sc.MS_SHARED, "rshared": sc.MS_SHARED | sc.MS_REC,
    "slave": sc.MS_SLAVE, "rslave": sc.MS_SLAVE | sc.MS_REC,
    "unbindable": sc.MS_UNBINDABLE, "runbindable": sc.MS_UNBINDABLE | sc.MS_REC,
}
# statvfs f_flag bits -> mount flags, to keep the flags the kernel locks on a bind mount
# (a remount in a user namespace must not try to clear them).
_ST_TO_MS = {1: sc.MS_RDONLY, 2: sc.MS_NOSUID, 4: sc.MS_NODEV, 8: sc.MS_NOEXEC,
             16: sc.MS_SYNCHRONOUS, 64: sc.MS_MANDLOCK, 1024: sc.MS_NOATIME,
             2048: sc.MS_NODIRATIME, 4096: sc.MS_RELATIME}


class MountOptions:
    """Flags for mount(2), propagation changes to apply after it, and the data string."""

    def __init__(self, flags: int = 0) -> None:
        self.flags = flags
        self.propagation: list[int] = []
        self.data: list[str] = []

    @property
    def is_bind(self) -> bool:
        return bool(self.flags & sc.MS_BIND)


def parse_options(options: list[str]) -> MountOptions:
    out = MountOptions()
    for opt in options:
        if opt in _FLAGS:
            clear, flag = _FLAGS[opt]
            out.flags = out.flags & ~flag if clear else out.flags | flag
        elif opt in PROPAGATION:
            out.propagation.append(PROPAGATION[opt])
        elif opt in ("tmpcopyup", "idmap", "ridmap"):
            raise InvalidArgument(f"mount option {opt!r} is not supported")
        else:
            out.data.append(opt)
    return out


def locked_flags(path: str) -> int:
    flags = 0
    st = os.statvfs(path).f_flag
    for st_bit, ms in _ST_TO_MS.items():
        if st & st_bit:
            flags |= ms
    return flags


def secure_join(root: str, unsafe: str) -> str:
    """root + unsafe, following symlinks as if root were '/', never leaving root."""
    parts = [p for p in unsafe.split("/") if p not in ("", ".")]
    resolved: list[str] = []
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = os.path.join(root, *resolved, part)
        try:
            target = os.readlink(candidate)
        except OSError:
            resolved.append(part)
            continue
        hops += 1
        if hops > 255:
            raise OSError(errno.ELOOP, "too many levels of symbolic links", unsafe)
        if target.startswith("/"):
            resolved = []
        parts = [p for p in target.split("/") if p not in ("", ".")] + parts
    return os.path.join(root, *resolved)


def _make_target(dest: str, is_dir: bool) -> None:
    if os.path.lexists(dest):
        return
    if is_dir:
        os.makedirs(dest, 0o755, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(dest), 0o755, exist_ok=True)
        os.close(os.open(dest, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o755))


def bind(source: str, dest: str, opts: MountOptions) -> None:
    """A bind mount, then the remount that applies ro/nosuid/... (bind ignores them)."""
    sc.mount(source, dest, None, sc.MS_BIND | (opts.flags & sc.MS_REC))
    extra = opts.flags & ~(sc.MS_BIND | sc.MS_REC | sc.MS_REMOUNT)
    if extra:
        flags = sc.MS_BIND | sc.MS_REMOUNT | extra | (locked_flags(dest) & ~sc.MS_RDONLY)
        sc.mount(None, dest, None, flags)


def mount_one(rootfs: str, bundle: str, m: dict, cgroup_paths: dict[str, str],
              cgroupns: bool) -> None:
    """Mount one entry of config.json's mounts inside rootfs (we are in the new mount ns)."""
    dest = secure_join(rootfs, m["destination"])
    kind = m.get("type") or ""
    opts = parse_options(m.get("options") or [])
    source = m.get("source") or kind or "none"
    if opts.is_bind or kind == "bind":
        if not source.startswith("/"):
            source = os.path.join(bundle, source)
        try:
            os.stat(source)
        except OSError as exc:  # ENOENT, or EACCES for a remapped root
            raise OSError(exc.errno, f"bind mount source: {exc.strerror}", source) from None
        _make_target(dest, os.path.isdir(source))
        opts.flags |= sc.MS_BIND
        bind(source, dest, opts)
    elif kind == "cgroup":
        _make_target(dest, True)
        _mount_cgroup(dest, opts, cgroup_paths, cgroupns)
    else:
        _make_target(dest, True)
        data = ",".join(opts.data) or None
        try:
            sc.mount(source, dest, kind, opts.flags, data)
        except PermissionError:
            if kind != "sysfs":
                raise
            # In a user namespace that does not own the network namespace, sysfs cannot be
            # mounted; the host's, read-only, is what runc falls back to as well.
            bind("/sys", dest, MountOptions(sc.MS_BIND | sc.MS_REC | opts.flags))
    for prop in opts.propagation:
        sc.mount(None, dest, None, prop)


def _mount_cgroup(dest: str, opts: MountOptions, cgroup_paths: dict[str, str],
                  cgroupns: bool) -> None:
    if "" in cgroup_paths:  # v2 only
        if cgroupns:
            sc.mount("cgroup2", dest, "cgroup2", opts.flags)
        else:
            bind(cgroup_paths[""], dest, MountOptions(sc.MS_BIND | opts.flags))
        return
    # v1: a tmpfs holding one directory per hierarchy, each the container's own cgroup.
    sc.mount("tmpfs", dest, "tmpfs", opts.flags & ~sc.MS_RDONLY, "mode=755")
    for controller, path in cgroup_paths.items():
        name = controller.removeprefix("name=")
        sub = os.path.join(dest, name)
        os.makedirs(sub, exist_ok=True)
        bind(path, sub, MountOptions(sc.MS_BIND | opts.flags))
    if opts.flags & sc.MS_RDONLY:
        sc.mount(None, dest, None, sc.MS_REMOUNT | opts.flags, "mode=755")
