"""A folder used as '/': paths resolved inside it, entries made through directory fds.

Every directory is opened relative to its parent's descriptor with O_NOFOLLOW, and every
entry is made, changed or read relative to such a descriptor, never through a path
string: neither a `..` nor a symlink (one the content brought, or one an earlier write of
the same copy left) can take a write or a read outside the root, even if the tree changes
meanwhile. Links are followed only by resolve(), and then as if the root were '/' (the
kernel's RESOLVE_IN_ROOT, Docker's FollowSymlinkInScope): an image's link to /etc leads
to the image's own /etc.

Below resolve(), a path is `Parts`, a tuple of names of which each but the last must be a
real directory (a link there is refused, never followed). An entry made where another is
replaces it, except a directory over a directory, which is kept and merged into.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from darse.errors import InvalidArgument

Parts = tuple[str, ...]
O_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_O_PATH = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC
_T = TypeVar("_T")
_O_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
CHUNK = 1 << 20
MAX_LINKS = 40  # links followed in one resolution: the kernel's own limit (ELOOP)
_KEPT_OPEN = 64  # directory fds a Root keeps between calls; the others are reopened


class UnsafePath(InvalidArgument):
    """A path that leads outside its root, or through a link where none may be."""


class Reader(Protocol):
    def read(self, n: int = -1) -> bytes: ...


def split(path: str) -> list[str]:
    """A slash path's components, '' and '.' dropped, '..' kept."""
    return [p for p in path.split("/") if p not in ("", ".")]


def clean(path: str) -> Parts:
    """The path lexically, each `..` taking away the name before it; climbing above the
    root is refused (a layer entry may not, a build source may not)."""
    parts: list[str] = []
    for part in split(path):
        if part != "..":
            parts.append(part)
        elif parts:
            parts.pop()
        else:
            raise UnsafePath(f"{path!r} points outside its root")
    return tuple(parts)


def display(parts: Parts) -> str:
    """Parts as the root's own user sees them ('/etc/passwd'): never the host's path."""
    return "/" + "/".join(parts)


def _error(code: int, parts: Parts) -> OSError:
    return OSError(code, os.strerror(code), display(parts))


class Tree(Protocol):
    """What resolve_in needs of a tree: a Root, a build context's tar, a container's view
    with its mounts."""

    def lstat(self, parts: Parts) -> os.stat_result | None: ...

    def readlink(self, parts: Parts) -> str: ...


def resolve_in(tree: Tree, path: str | Parts, follow_last: bool = True,
               missing: Callable[[Parts], None] | None = None) -> Parts:
    """Where path leads in tree: links followed as if its root were '/' (the last one
    only if follow_last), `..` stopping at the root. The last component may be missing;
    a missing one before it goes to `missing` (which makes it, or lets it stand as a
    folder to be) or raises FileNotFoundError, and a file before it NotADirectoryError."""
    todo = split(path) if isinstance(path, str) else list(path)
    real: list[str] = []
    hops = 0
    while todo:
        part = todo.pop(0)
        if part == "..":
            if real:
                real.pop()
            continue
        here = (*real, part)
        st = tree.lstat(here)
        if st is None:
            if todo:
                if missing is None:
                    raise _error(errno.ENOENT, here)
                missing(here)
            real.append(part)
            continue
        if stat.S_ISLNK(st.st_mode) and (todo or follow_last):
            hops += 1
            if hops > MAX_LINKS:
                raise _error(errno.ELOOP, here)
            target = tree.readlink(here)
            if target.startswith("/"):
                real = []
            todo = split(target) + todo
            continue
        if todo and not stat.S_ISDIR(st.st_mode):
            raise _error(errno.ENOTDIR, here)
        real.append(part)
    return tuple(real)


@dataclass
class Meta:
    """What an entry gets once made: owner first (chown drops set-id bits and file
    capabilities), then mode and extended attributes, then times."""

    uid: int
    gid: int
    mode: int | None = None  # None for a link, which has no mode of its own
    xattrs: dict[str, bytes] = field(default_factory=dict)
    atime_ns: int | None = None
    mtime_ns: int | None = None  # None: leave the times (a directory's come last)


class Root:
    """A folder whose entries are read and written only through fds opened inside it."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd = os.open(path, O_DIR)
        self._fds: OrderedDict[Parts, int] = OrderedDict()

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> Root:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- directories -------------------------------------------------------------------
    # Every public method starts with _trim(), and no fd it got from _dir() outlives it:
    # so an fd in use is never one the cache closes.

    def _trim(self) -> None:
        while len(self._fds) > _KEPT_OPEN:
            os.close(self._fds.popitem(last=False)[1])

    def _dir(self, parts: Parts, create: bool = False) -> int:
        """The directory at parts, each component a real directory (missing ones made
        0755 if create): a link or a file on the way is refused, never followed."""
        if not parts:
            return self.fd
        fd = self._fds.get(parts)
        if fd is not None:
            self._fds.move_to_end(parts)
            return fd
        parent = self._dir(parts[:-1], create)
        try:
            fd = self._open_dir(parent, parts)
        except FileNotFoundError:
            if not create:
                raise
            try:
                os.mkdir(parts[-1], 0o755, dir_fd=parent)
            except FileExistsError:
                pass  # made meanwhile, or a dangling link: the open decides
            fd = self._open_dir(parent, parts)
        self._fds[parts] = fd
        return fd

    @staticmethod
    def _open_dir(parent: int, parts: Parts) -> int:
        try:
            return os.open(parts[-1], O_DIR, dir_fd=parent)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                raise UnsafePath(f"{display(parts)} is a link or a file, not a "
                                 "directory") from None
            raise

    def _forget(self, parts: Parts) -> None:
        """A directory goes: so do the fds of it and of what was in it."""
        for key in [k for k in self._fds if k[:len(parts)] == parts]:
            os.close(self._fds.pop(key))

    def dir_fd(self, parts: Parts, create: bool = False) -> int:
        """An fd of the directory at parts, the Root's own: valid until the next call."""
        self._trim()
        return self._dir(parts, create)

    def resolve(self, path: str, follow_last: bool = True, create: bool = False,
                owner: tuple[int, int] | None = None) -> Parts:
        """Where path leads (resolve_in), a missing folder on the way made (0755,
        chowned to owner if given) when create."""
        self._trim()

        def make(parts: Parts) -> None:
            self._new_dir(self._dir(parts[:-1]), parts[-1], owner)

        return resolve_in(self, path, follow_last, make if create else None)

    def makedirs(self, path: str, owner: tuple[int, int] | None = None) -> tuple[Parts, bool]:
        """path as a directory, links followed inside the root, made with its missing
        parents (0755, chowned to owner if given) as `mkdir -p` would. Returns where it is
        and whether it was made; NotADirectoryError if a file is in the way."""
        real = self.resolve(path, create=True, owner=owner)
        if not real:
            return real, False
        parent = self._dir(real[:-1])
        try:
            st = os.stat(real[-1], dir_fd=parent, follow_symlinks=False)
        except FileNotFoundError:
            self._new_dir(parent, real[-1], owner)
            return real, True
        if not stat.S_ISDIR(st.st_mode):
            raise _error(errno.ENOTDIR, real)
        return real, False

    @staticmethod
    def _new_dir(parent: int, name: str, owner: tuple[int, int] | None) -> None:
        os.mkdir(name, 0o755, dir_fd=parent)
        fd = os.open(name, O_DIR, dir_fd=parent)
        try:
            os.fchmod(fd, 0o755)  # whatever the daemon's umask
            if owner is not None:
                os.fchown(fd, *owner)
        finally:
            os.close(fd)

    # --- reading -----------------------------------------------------------------------

    def lstat(self, parts: Parts) -> os.stat_result | None:
        """The entry itself (a link is not followed); None if there is none."""
        self._trim()
        if not parts:
            return os.fstat(self.fd)
        try:
            return os.stat(parts[-1], dir_fd=self._dir(parts[:-1]), follow_symlinks=False)
        except FileNotFoundError:
            return None

    def listdir(self, parts: Parts) -> list[str]:
        self._trim()
        return os.listdir(self._dir(parts))

    def readlink(self, parts: Parts) -> str:
        self._trim()
        return os.readlink(parts[-1], dir_fd=self._dir(parts[:-1]))

    def open_file(self, parts: Parts) -> int:
        """A regular file, opened to read (the caller closes the fd). It is checked
        before it is opened: opening a device or a FIFO could block or act."""
        self._trim()
        path_fd = os.open(parts[-1], _O_PATH, dir_fd=self._dir(parts[:-1]))
        try:
            if not stat.S_ISREG(os.fstat(path_fd).st_mode):
                raise InvalidArgument(f"{display(parts)} is not a regular file")
            return os.open(f"/proc/self/fd/{path_fd}", os.O_RDONLY | os.O_CLOEXEC)
        finally:
            os.close(path_fd)

    def xattrs(self, parts: Parts) -> dict[str, bytes]:
        """The entry's extended attributes (none for a link)."""
        self._trim()
        fd = self._open_path(parts)
        try:
            if stat.S_ISLNK(os.fstat(fd).st_mode):
                return {}
            proc = f"/proc/self/fd/{fd}"
            try:
                return {name: os.getxattr(proc, name) for name in os.listxattr(proc)}
            except OSError as exc:
                if exc.errno in (errno.ENOTSUP, errno.ENODATA):
                    return {}
                raise
        finally:
            os.close(fd)

    def _open_path(self, parts: Parts) -> int:
        if not parts:
            return os.open(".", _O_PATH, dir_fd=self.fd)
        return os.open(parts[-1], _O_PATH, dir_fd=self._dir(parts[:-1]))

    # --- writing -----------------------------------------------------------------------
    # Each makes its entry's missing parents (0755), as a tar without directory entries
    # needs, and replaces what is there.

    def _replace(self, parts: Parts) -> int:
        """The parent's fd, parts' old entry gone."""
        parent = self._dir(parts[:-1], create=True)
        name = parts[-1]
        try:
            st = os.stat(name, dir_fd=parent, follow_symlinks=False)
        except FileNotFoundError:
            return parent
        if stat.S_ISDIR(st.st_mode):
            self._forget(parts)
            shutil.rmtree(name, dir_fd=parent)  # fd-based: follows no link
        else:
            os.unlink(name, dir_fd=parent)
        return parent

    def _create(self, parts: Parts, make: Callable[[int, str], _T]) -> _T:
        """make(parent fd, name): at once, as a new layer's every entry is (no lookup
        first: one system call less an entry); after the entry there is replaced if one
        is (FileExistsError: every creating call here refuses to follow or overwrite)."""
        parent = self._dir(parts[:-1], create=True)
        try:
            return make(parent, parts[-1])
        except FileExistsError:
            return make(self._replace(parts), parts[-1])

    def remove(self, parts: Parts) -> None:
        """Whatever is at parts goes, a directory with its content."""
        self._trim()
        if not parts:
            raise UnsafePath("the root itself cannot be removed")
        self._replace(parts)

    def mkdir(self, parts: Parts, meta: Meta | None = None) -> None:
        """A directory at parts: one already there is kept (its content merges with what
        comes), anything else replaced."""
        self._trim()
        if parts:
            parent = self._dir(parts[:-1], create=True)
            try:
                os.mkdir(parts[-1], 0o755, dir_fd=parent)
            except FileExistsError:
                st = os.stat(parts[-1], dir_fd=parent, follow_symlinks=False)
                if not stat.S_ISDIR(st.st_mode):
                    os.mkdir(parts[-1], 0o755, dir_fd=self._replace(parts))
        if meta is not None:
            self._apply(self._dir(parts), meta)

    def write(self, parts: Parts, data: int | Reader | bytes, meta: Meta | None = None
              ) -> None:
        """A regular file at parts holding data (bytes, an fd read to its end, or a
        reader)."""
        self._trim()
        fd = self._create(parts, lambda parent, name: os.open(name, _O_NEW, 0o600,
                                                              dir_fd=parent))
        try:
            _fill(fd, data)
            if meta is not None:
                self._apply(fd, meta)
        finally:
            os.close(fd)

    def symlink(self, parts: Parts, target: str, meta: Meta | None = None) -> None:
        self._trim()

        def make(parent: int, name: str) -> int:
            os.symlink(target, name, dir_fd=parent)
            return parent

        parent = self._create(parts, make)
        if meta is not None:
            self._meta_at(parent, parts[-1], meta)

    def hardlink(self, parts: Parts, target: Parts) -> None:
        """A second name for the entry at target (a link there is linked, not followed);
        FileNotFoundError if there is none."""
        self._trim()
        if not target:
            raise UnsafePath("a hard link to the root")

        def make(parent: int, name: str) -> None:
            # Looked up again after a replacement: the removal may have closed its fd.
            os.link(target[-1], name, src_dir_fd=self._dir(target[:-1]), dst_dir_fd=parent,
                    follow_symlinks=False)

        self._create(parts, make)

    def mknod(self, parts: Parts, mode: int, device: int = 0, meta: Meta | None = None
              ) -> None:
        """A device or a FIFO (mode holds its type), never opened."""
        self._trim()

        def make(parent: int, name: str) -> int:
            os.mknod(name, mode, device, dir_fd=parent)
            return parent

        parent = self._create(parts, make)
        if meta is not None:
            self._meta_at(parent, parts[-1], meta)

    def set_meta(self, parts: Parts, meta: Meta) -> None:
        self._trim()
        if not parts:
            self._apply(self.fd, meta)
        else:
            self._meta_at(self._dir(parts[:-1]), parts[-1], meta)

    def set_xattr(self, parts: Parts, name: str, value: bytes) -> None:
        self._trim()
        fd = self._open_path(parts)
        try:
            if stat.S_ISLNK(os.fstat(fd).st_mode):
                raise UnsafePath(f"{display(parts)} is a link")
            os.setxattr(f"/proc/self/fd/{fd}", name, value)
        finally:
            os.close(fd)

    def set_times(self, parts: Parts, atime_ns: int, mtime_ns: int) -> None:
        """Times of the entry itself (a link's own, not its target's)."""
        self._trim()
        if not parts:
            os.utime(self.fd, ns=(atime_ns, mtime_ns))
        else:
            os.utime(parts[-1], ns=(atime_ns, mtime_ns), dir_fd=self._dir(parts[:-1]),
                     follow_symlinks=False)

    def _meta_at(self, parent: int, name: str, meta: Meta) -> None:
        # An O_PATH fd pins the entry without opening it (a device's driver is not
        # called); /proc/self/fd/N then reaches that very inode, never a path.
        fd = os.open(name, _O_PATH, dir_fd=parent)
        try:
            if stat.S_ISLNK(os.fstat(fd).st_mode):
                os.chown(name, meta.uid, meta.gid, dir_fd=parent, follow_symlinks=False)
                if meta.mtime_ns is not None:
                    os.utime(name, ns=(meta.atime_ns or meta.mtime_ns, meta.mtime_ns),
                             dir_fd=parent, follow_symlinks=False)
            else:
                self._apply(fd, meta, f"/proc/self/fd/{fd}")
        finally:
            os.close(fd)

    @staticmethod
    def _apply(fd: int, meta: Meta, proc: str | None = None) -> None:
        """Meta onto an open entry (through proc, its /proc/self/fd path, if the fd is
        an O_PATH one)."""
        target: int | str = proc if proc is not None else fd
        os.chown(target, meta.uid, meta.gid)
        if meta.mode is not None:
            os.chmod(target, meta.mode)
        for name, value in meta.xattrs.items():
            try:
                os.setxattr(target, name, value)
            except OSError as exc:
                if exc.errno != errno.ENOTSUP:  # a filesystem without them keeps none
                    raise
        if meta.mtime_ns is not None:
            os.utime(target, ns=(meta.atime_ns or meta.mtime_ns, meta.mtime_ns))


def _fill(fd: int, data: int | Reader | bytes) -> None:
    if isinstance(data, bytes):
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        return
    if isinstance(data, int):
        try:
            while os.sendfile(fd, data, None, CHUNK):
                pass
            return
        except OSError as exc:
            if exc.errno not in (errno.EINVAL, errno.ENOSYS):
                raise
        read = lambda n: os.read(data, n)  # noqa: E731 - sendfile cannot: plain copy
    else:
        read = data.read
    while chunk := read(CHUNK):
        view = memoryview(chunk)
        while view:
            view = view[os.write(fd, view):]
