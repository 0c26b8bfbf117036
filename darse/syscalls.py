"""The Linux system calls that Python's os module lacks, typed and in one place.

Everything here is a thin ctypes call into libc that raises OSError with errno on
failure, as os functions do. No policy lives here.
"""

from __future__ import annotations

import ctypes
import os
import struct

_libc = ctypes.CDLL(None, use_errno=True)

# Namespace flags (linux/sched.h).
CLONE_NEWTIME = 0x00000080
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

# Mount flags (linux/mount.h).
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_SYNCHRONOUS = 16
MS_REMOUNT = 32
MS_MANDLOCK = 64
MS_DIRSYNC = 128
MS_NOSYMFOLLOW = 256
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_MOVE = 8192
MS_REC = 16384
MS_SILENT = 32768
MS_POSIXACL = 1 << 16
MS_UNBINDABLE = 1 << 17
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_SHARED = 1 << 20
MS_RELATIME = 1 << 21
MS_STRICTATIME = 1 << 24
MS_LAZYTIME = 1 << 25
MNT_DETACH = 2

# prctl options (linux/prctl.h).
PR_SET_PDEATHSIG = 1
PR_SET_KEEPCAPS = 8
PR_CAPBSET_READ = 23
PR_CAPBSET_DROP = 24
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_RAISE = 2
PR_CAP_AMBIENT_CLEAR_ALL = 4

_SYSCALLS = {
    # name: (x86_64, aarch64)
    "pivot_root": (155, 41),
    "capget": (125, 90),
    "capset": (126, 91),
    "mount_setattr": (442, 442),
    "open_tree": (428, 428),
    "move_mount": (429, 429),
    "close_range": (436, 436),
}
_ARCH_INDEX = 1 if os.uname().machine in ("aarch64", "arm64") else 0


def _check(result: int) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return result


def _b(value: str | None) -> bytes | None:
    return None if value is None else os.fsencode(value)


def mount(source: str | None, target: str, fstype: str | None, flags: int = 0,
          data: str | None = None) -> None:
    """mount(2); the error names the target, as mount(8) would."""
    if _libc.mount(_b(source), _b(target), _b(fstype), ctypes.c_ulong(flags), _b(data)) < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), target)


def umount2(target: str, flags: int = 0) -> None:
    if _libc.umount2(_b(target), ctypes.c_int(flags)) < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), target)


def unshare(flags: int) -> None:
    _check(_libc.unshare(ctypes.c_int(flags)))


def setns(fd: int, nstype: int = 0) -> None:
    _check(_libc.setns(ctypes.c_int(fd), ctypes.c_int(nstype)))


def pivot_root(new_root: str, put_old: str) -> None:
    nr = _SYSCALLS["pivot_root"][_ARCH_INDEX]
    _check(_libc.syscall(ctypes.c_long(nr), _b(new_root), _b(put_old)))


MOUNT_ATTR_RDONLY = 0x1
AT_RECURSIVE = 0x8000


def mount_setattr_rdonly_recursive(path: str) -> None:
    """Read-only for the mount at path and every mount under it (Linux 5.12)."""
    attr = struct.pack("4Q", MOUNT_ATTR_RDONLY, 0, 0, 0)  # struct mount_attr
    nr = _SYSCALLS["mount_setattr"][_ARCH_INDEX]
    _check(_libc.syscall(ctypes.c_long(nr), ctypes.c_int(-100), _b(path),
                         ctypes.c_uint(AT_RECURSIVE), attr, ctypes.c_size_t(len(attr))))


MOUNT_ATTR_IDMAP = 0x100000
OPEN_TREE_CLONE = 1
AT_EMPTY_PATH = 0x1000
MOVE_MOUNT_F_EMPTY_PATH = 0x4


def idmapped_bind(source: str, target: str, userns_fd: int) -> None:
    """A bind mount of source on target whose owners are seen through the user namespace
    userns_fd's mappings (an idmapped mount, Linux 5.12): a detached clone, mapped, then
    attached."""
    tree = _check(_libc.syscall(ctypes.c_long(_SYSCALLS["open_tree"][_ARCH_INDEX]),
                                ctypes.c_int(-100), _b(source),
                                ctypes.c_uint(OPEN_TREE_CLONE | os.O_CLOEXEC)))
    try:
        attr = struct.pack("4Q", MOUNT_ATTR_IDMAP, 0, 0, userns_fd)  # struct mount_attr
        _check(_libc.syscall(ctypes.c_long(_SYSCALLS["mount_setattr"][_ARCH_INDEX]),
                             ctypes.c_int(tree), b"", ctypes.c_uint(AT_EMPTY_PATH), attr,
                             ctypes.c_size_t(len(attr))))
        _check(_libc.syscall(ctypes.c_long(_SYSCALLS["move_mount"][_ARCH_INDEX]),
                             ctypes.c_int(tree), b"", ctypes.c_int(-100), _b(target),
                             ctypes.c_uint(MOVE_MOUNT_F_EMPTY_PATH)))
    finally:
        os.close(tree)


CLOSE_RANGE_CLOEXEC = 4


def close_range_cloexec(first: int) -> None:
    """Every descriptor from first on marked close-on-exec, in one call (Linux 5.11)."""
    _check(_libc.syscall(ctypes.c_long(_SYSCALLS["close_range"][_ARCH_INDEX]),
                         ctypes.c_uint(first), ctypes.c_uint(0xFFFFFFFF),
                         ctypes.c_uint(CLOSE_RANGE_CLOEXEC)))


def sethostname(name: str) -> None:
    raw = name.encode()
    _check(_libc.sethostname(raw, ctypes.c_size_t(len(raw))))


def setdomainname(name: str) -> None:
    raw = name.encode()
    _check(_libc.setdomainname(raw, ctypes.c_size_t(len(raw))))


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    return _check(_libc.prctl(ctypes.c_int(option), ctypes.c_ulong(arg2), ctypes.c_ulong(arg3),
                              ctypes.c_ulong(arg4), ctypes.c_ulong(arg5)))


_CAP_V3 = 0x20080522


def capget(pid: int = 0) -> tuple[int, int, int]:
    """Return the (effective, permitted, inheritable) capability masks of a process."""
    header = ctypes.create_string_buffer(struct.pack("Ii", _CAP_V3, pid), 8)
    data = ctypes.create_string_buffer(24)
    _check(_libc.syscall(ctypes.c_long(_SYSCALLS["capget"][_ARCH_INDEX]), header, data))
    e0, p0, i0, e1, p1, i1 = struct.unpack("6I", data.raw)
    return e0 | e1 << 32, p0 | p1 << 32, i0 | i1 << 32


def capset(effective: int, permitted: int, inheritable: int) -> None:
    header = ctypes.create_string_buffer(struct.pack("Ii", _CAP_V3, 0), 8)
    lo, hi = 0xFFFFFFFF, 32
    data = ctypes.create_string_buffer(struct.pack(
        "6I", effective & lo, permitted & lo, inheritable & lo,
        effective >> hi & lo, permitted >> hi & lo, inheritable >> hi & lo), 24)
    _check(_libc.syscall(ctypes.c_long(_SYSCALLS["capset"][_ARCH_INDEX]), header, data))


def set_child_subreaper() -> None:
    """Orphaned descendants (a container's init after a double fork) become our children."""
    prctl(PR_SET_CHILD_SUBREAPER, 1)


# inotify (linux/inotify.h): what darsed's log followers sleep on instead of polling.
IN_MODIFY = 0x00000002
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE_SELF = 0x00000400
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000


def inotify_init1(flags: int = os.O_NONBLOCK | os.O_CLOEXEC) -> int:
    return _check(_libc.inotify_init1(ctypes.c_int(flags)))


def inotify_add_watch(fd: int, path: str, mask: int) -> int:
    if (wd := _libc.inotify_add_watch(ctypes.c_int(fd), _b(path), ctypes.c_uint32(mask))) < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), path)
    return wd


def inotify_rm_watch(fd: int, wd: int) -> None:
    _check(_libc.inotify_rm_watch(ctypes.c_int(fd), ctypes.c_int(wd)))
