"""The spec's mounts: option parsing, safe destinations inside the rootfs, each type.

Destinations are resolved and made inside the rootfs through darse.fs, every symlink
clamped to it, so an image cannot point a mount at the host (the attack runc's
securejoin guards against).
"""

from __future__ import annotations

import os

from darse import syscalls as sc
from darse.errors import InvalidArgument
from darse.fs.root import Root

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
        self.recursive_ro = False  # "rro": read-only down to the mounts under it too

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
        elif opt == "rro":
            out.recursive_ro = True
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


def mount_target(rootfs: str, destination: str, is_dir: bool = True) -> str:
    """The mount point for destination inside rootfs, made if missing (a folder, or an
    empty file for a file's bind mount). Found and made through darse.fs: links are
    clamped to the rootfs and no folder on the way is entered through a link, so an
    image (or a container sharing a volume) cannot point a mount, or the folders made
    for it, at the host."""
    with Root(rootfs) as root:
        parts = root.resolve(destination, create=True)
        if parts and root.lstat(parts) is None:
            parent = root.dir_fd(parts[:-1])
            if is_dir:
                os.mkdir(parts[-1], 0o755, dir_fd=parent)
            else:
                os.close(os.open(parts[-1], os.O_CREAT | os.O_EXCL | os.O_WRONLY
                                 | os.O_NOFOLLOW | os.O_CLOEXEC, 0o755, dir_fd=parent))
    return os.path.join(rootfs, *parts)


def bind(source: str, dest: str, opts: MountOptions) -> None:
    """A bind mount, then the remount that applies ro/nosuid/... (bind ignores them)."""
    sc.mount(source, dest, None, sc.MS_BIND | (opts.flags & sc.MS_REC))
    extra = opts.flags & ~(sc.MS_BIND | sc.MS_REC | sc.MS_REMOUNT)
    if extra:
        flags = sc.MS_BIND | sc.MS_REMOUNT | extra | (locked_flags(dest) & ~sc.MS_RDONLY)
        sc.mount(None, dest, None, flags)
    if opts.recursive_ro:
        sc.mount_setattr_rdonly_recursive(dest)


def mount_one(rootfs: str, bundle: str, m: dict, cgroup_paths: dict[str, str],
              cgroupns: bool) -> None:
    """Mount one entry of config.json's mounts inside rootfs (we are in the new mount ns)."""
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
        dest = mount_target(rootfs, m["destination"], os.path.isdir(source))
        opts.flags |= sc.MS_BIND
        bind(source, dest, opts)
    elif kind == "cgroup":
        dest = mount_target(rootfs, m["destination"])
        _mount_cgroup(dest, opts, cgroup_paths, cgroupns)
    else:
        dest = mount_target(rootfs, m["destination"])
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
