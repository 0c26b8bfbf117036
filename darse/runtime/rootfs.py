"""The container's root: propagation, /dev, pivot_root, masked and read-only paths.

Runs in the container's init, inside its new mount namespace, in the order runc uses
(config-linux.md: rootfsPropagation, devices, maskedPaths, readonlyPaths).
"""

from __future__ import annotations

import errno
import os
import stat

from darse import syscalls as sc
from darse.errors import InvalidArgument
from darse.fs.root import Root
from darse.runtime import mounts

# The devices every container has (config-linux.md, "Default Devices").
DEFAULT_DEVICES = [("/dev/null", 1, 3), ("/dev/zero", 1, 5), ("/dev/full", 1, 7),
                   ("/dev/random", 1, 8), ("/dev/urandom", 1, 9), ("/dev/tty", 5, 0)]
DEV_SYMLINKS = [("/proc/self/fd", "/dev/fd"), ("/proc/self/fd/0", "/dev/stdin"),
                ("/proc/self/fd/1", "/dev/stdout"), ("/proc/self/fd/2", "/dev/stderr")]


def prepare(rootfs: str, propagation: str) -> None:
    """Stop mount events from reaching the host, and make rootfs a mount point."""
    flags = mounts.PROPAGATION.get(propagation, sc.MS_SLAVE | sc.MS_REC)
    sc.mount(None, "/", None, flags)
    _parent_mount_private(rootfs)
    sc.mount(rootfs, rootfs, None, sc.MS_BIND | sc.MS_REC)


def _parent_mount_private(rootfs: str) -> None:
    # pivot_root(2) refuses a new root whose parent mount is shared (EINVAL), and the
    # rootfs's bind onto itself gets as parent the mount rootfs lies on: rootfs itself
    # when it is a mount point (an overlay, a bind), which rootfsPropagation "rshared" has
    # just made shared. os.path.ismount cannot find it (a bind on the same filesystem has
    # the same st_dev as its parent): the kernel's answer can, EINVAL for a path that is
    # not a mount point.
    path = os.path.normpath(rootfs)
    while True:
        try:
            sc.mount(None, path, None, sc.MS_PRIVATE)
            return
        except OSError as exc:
            if exc.errno != errno.EINVAL or path == "/":
                raise
        path = os.path.dirname(path)


def needs_dev_setup(config_mounts: list[dict]) -> bool:
    """Default devices are made unless the user bind-mounts a /dev of their own."""
    for m in config_mounts:
        if os.path.normpath(m["destination"]) == "/dev":
            opts = m.get("options") or []
            return not ("bind" in opts or "rbind" in opts or m.get("type") == "bind")
    return False


def make_device(rootfs: str, path: str, kind: str, major: int, minor: int, mode: int,
                uid: int, gid: int, in_userns: bool) -> None:
    # Made through darse.fs: the image's links clamped to the rootfs, none followed on
    # the way, the node itself made relative to its folder's fd.
    with Root(rootfs) as root:
        parts = root.resolve(path, follow_last=False, create=True)
        if not parts:
            raise InvalidArgument(f"device path {path!r} is the root")
        parent, name = root.dir_fd(parts[:-1]), parts[-1]
        if root.lstat(parts) is not None:
            root.remove(parts)
            parent = root.dir_fd(parts[:-1])
        if in_userns:
            # mknod is not allowed in a user namespace: bind the host's node instead.
            os.close(os.open(name, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW
                             | os.O_CLOEXEC, 0o644, dir_fd=parent))
            sc.mount(path, os.path.join(rootfs, *parts), None, sc.MS_BIND)
            return
        kinds = {"c": stat.S_IFCHR, "u": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}
        os.mknod(name, kinds[kind] | (mode & 0o7777), os.makedev(major, minor), dir_fd=parent)
        os.chmod(name, mode & 0o7777, dir_fd=parent)  # just made: whatever the umask
        os.chown(name, uid, gid, dir_fd=parent, follow_symlinks=False)


def setup_dev(rootfs: str, in_userns: bool) -> None:
    for path, major, minor in DEFAULT_DEVICES:
        make_device(rootfs, path, "c", major, minor, 0o666, 0, 0, in_userns)


def setup_dev_links(rootfs: str) -> None:
    """After linux.devices, as runc: a host's /dev/ptmx node given to a privileged
    container must not replace the link to the container's own devpts. Made through
    darse.fs: an image whose /dev is a link (to /etc, to the host's /dev) gets them in
    its own tree."""
    links = [*DEV_SYMLINKS, ("pts/ptmx", "/dev/ptmx")]
    if os.path.exists("/proc/kcore"):
        links.append(("/proc/kcore", "/dev/core"))
    with Root(rootfs) as root:
        for target, link in links:
            parts = root.resolve(link, follow_last=False, create=True)
            if not parts:
                continue
            if root.lstat(parts) is not None:
                if link != "/dev/ptmx":
                    continue  # the user's own, kept
                root.remove(parts)
            os.symlink(target, parts[-1], dir_fd=root.dir_fd(parts[:-1]))


def create_devices(rootfs: str, devices: list[dict], in_userns: bool) -> None:
    for dev in devices:
        make_device(rootfs, dev["path"], dev["type"], dev.get("major", 0), dev.get("minor", 0),
                    dev.get("fileMode", 0o666), dev.get("uid", 0), dev.get("gid", 0), in_userns)


def pivot(rootfs: str) -> None:
    """pivot_root into rootfs with no put_old directory (runc's '.' '.' trick)."""
    old_root = os.open("/", os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
    new_root = os.open(rootfs, os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fchdir(new_root)
        sc.pivot_root(".", ".")
        os.fchdir(old_root)
        # Slave first, so that unmounting the old root does not propagate to the host.
        sc.mount(None, ".", None, sc.MS_SLAVE | sc.MS_REC)
        sc.umount2(".", sc.MNT_DETACH)
    finally:
        os.close(old_root)
        os.close(new_root)
    os.chdir("/")


def chroot(rootfs: str) -> None:
    """A container in the runtime's mount namespace: its root is only a chroot."""
    os.chdir(rootfs)
    os.chroot(".")
    os.chdir("/")


def unmount_under(rootfs: str) -> None:
    """What a container without a mount namespace of its own mounted in the runtime's,
    deepest first (delete, or a create that failed)."""
    top = os.path.normpath(rootfs)
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4].replace("\\040", " ") for line in f]
    for point in sorted({p for p in points if p.startswith(top + "/")},
                        key=lambda p: p.count("/"), reverse=True):
        try:
            sc.umount2(point, sc.MNT_DETACH)
        except OSError:
            pass  # gone with its parent already


def move_root(rootfs: str) -> None:
    """For roots pivot_root cannot leave (initramfs): MS_MOVE onto / and chroot."""
    os.chdir(rootfs)
    sc.mount(rootfs, "/", None, sc.MS_MOVE)
    os.chroot(".")
    os.chdir("/")


def mask_path(path: str) -> None:
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            sc.mount("tmpfs", path, "tmpfs", sc.MS_RDONLY)
        else:
            sc.mount("/dev/null", path, None, sc.MS_BIND)
    except OSError as exc:
        if exc.errno not in (errno.ENOENT, errno.ENOTDIR):
            raise


def readonly_path(path: str) -> None:
    try:
        sc.mount(path, path, None, sc.MS_BIND | sc.MS_REC)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return
        raise
    flags = sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY | sc.MS_REC | mounts.locked_flags(path)
    sc.mount(None, path, None, flags)


def readonly_root() -> None:
    sc.mount(None, "/", None, sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY | mounts.locked_flags("/"))
