"""docker cp's daemon side: a path of a container stat'ed, archived, or a tar extracted
into it (HEAD, GET and PUT /containers/{id}/archive).

A container's files are its rootfs plus its mounts (volumes, binds, its /etc/hosts,
hostname and resolv.conf), as Docker's archive calls see them. ContainerView walks that
tree: a path is resolved as Docker resolves it (`..` lexically first, then links
followed inside the container, as if its root were '/'), and each entry is reached
through the darse.fs Root of the mount it lies in, so no read or write goes through a
link to the host, whatever the container or the tar holds.
"""

from __future__ import annotations

import datetime
import os
import posixpath
import stat
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from darse.engine import users
from darse.engine import volumes as mounts
from darse.errors import DarseError, InvalidArgument, NotFound
from darse.fs import tarstream
from darse.fs.root import Meta, Parts, Root, UnsafePath, clean, display, resolve_in, split

if TYPE_CHECKING:
    from darse.engine.engine import Engine

MAX_LINKS = 40
OVERFLOW_ID = 65534  # what the kernel shows for an id outside a user namespace
ETC_FILES = ("resolv.conf", "hostname", "hosts")
TAR_ERROR = "Error processing tar file(exit status 1): "

# Go's os.FileMode bits: the X-Docker-Container-Path-Stat header carries them.
_GO_DIR, _GO_SYMLINK, _GO_DEVICE, _GO_PIPE = 1 << 31, 1 << 27, 1 << 26, 1 << 25
_GO_SOCKET, _GO_SETUID, _GO_SETGID, _GO_CHAR, _GO_STICKY = (1 << 24, 1 << 23, 1 << 22,
                                                            1 << 21, 1 << 20)


@dataclass
class Mount:
    dest: Parts  # where the container sees it
    source: str  # a host folder
    prefix: Parts  # inside source (a file mount: the file's name)
    rw: bool
    rootfs: bool = False


class ContainerView:
    """The container's tree: its rootfs with its mounts over it."""

    def __init__(self, engine: Engine, doc: dict[str, Any]) -> None:
        cdir = engine._dir(doc["Id"])
        self.mounts = [Mount((), os.path.join(cdir, "rootfs"), (), True, rootfs=True)]
        self.mounts += [Mount(("etc", name), cdir, (name,), True) for name in ETC_FILES]
        for m in doc.get(mounts.INTERNAL) or []:
            if m["Type"] == "tmpfs":
                continue  # in the container's own mount namespace only (as Docker's)
            source = engine.volumes.path(m["Name"]) if m["Type"] == "volume" else m["Source"]
            dest = tuple(split(m["Target"]))
            if os.path.isdir(source):
                self.mounts.append(Mount(dest, source, (), bool(m["RW"])))
            else:
                self.mounts.append(Mount(dest, os.path.dirname(source),
                                         (os.path.basename(source),), bool(m["RW"])))
        self._roots: dict[str, Root] = {}

    def close(self) -> None:
        for root in self._roots.values():
            root.close()
        self._roots.clear()

    def _root(self, path: str) -> Root:
        root = self._roots.get(path)
        if root is None:
            root = self._roots[path] = Root(path)
        return root

    def locate(self, parts: Parts) -> tuple[Root, Parts, Mount]:
        """The Root holding the entry at parts, its place there, and its mount (the
        deepest one; of two at the same place, the later, as mounted)."""
        best = self.mounts[0]
        for m in self.mounts:
            if len(m.dest) >= len(best.dest) and parts[:len(m.dest)] == m.dest:
                best = m
        return self._root(best.source), best.prefix + parts[len(best.dest):], best

    def is_mount_point(self, parts: Parts) -> bool:
        return any(m.dest == parts for m in self.mounts[1:]) or not parts

    # the tarstream.View protocol
    def lstat(self, parts: Parts) -> os.stat_result | None:
        root, rel, _ = self.locate(parts)
        return root.lstat(rel)

    def listdir(self, parts: Parts) -> list[str]:
        root, rel, _ = self.locate(parts)
        return root.listdir(rel)

    def readlink(self, parts: Parts) -> str:
        root, rel, _ = self.locate(parts)
        return root.readlink(rel)

    def open_file(self, parts: Parts) -> int:
        root, rel, _ = self.locate(parts)
        return root.open_file(rel)

    def xattrs(self, parts: Parts) -> dict[str, bytes]:
        root, rel, _ = self.locate(parts)
        return root.xattrs(rel)

    def resolve(self, path: str | Parts, follow_last: bool = True, lenient: bool = False
                ) -> Parts:
        """Where path leads in the container, links followed inside it (the last one
        only if follow_last). A missing component may end the path; before the end it
        raises FileNotFoundError, unless lenient (then it is taken as a folder to be)."""
        return resolve_in(self, path, follow_last, (lambda parts: None) if lenient else None)


@contextmanager
def container_view(engine: Engine, ref: str) -> Iterator[tuple[dict[str, Any], ContainerView]]:
    """The container's view, its rootfs mounted for the time if it is not running (under
    its lock then, so that a start does not race the unmount)."""
    doc = engine.containers.find(ref)
    if doc["State"]["Running"]:
        view = ContainerView(engine, doc)
        try:
            yield doc, view
        finally:
            view.close()
        return
    with engine._clocks.hold(doc["Id"]):
        doc = engine.containers.find(doc["Id"])
        mounted_here = not doc["State"]["Running"]
        if mounted_here:
            engine._mount_rootfs(doc)
        view = ContainerView(engine, doc)
        try:
            yield doc, view
        finally:
            view.close()
            if mounted_here and not engine.is_running(doc["Id"]):
                engine._unmount_rootfs(doc["Id"])


# --- stat ----------------------------------------------------------------------------


def _abs_path(path: str) -> tuple[str, bool]:
    """(the path made absolute and cleaned as Docker does, whether its last component is
    followed: it ends with '/' or '/.')."""
    if not path:
        raise InvalidArgument("bad parameter: pathcannot be empty")  # dockerd's words
    cleaned = posixpath.normpath("/" + path)
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    if path.endswith("/."):
        return cleaned.rstrip("/") + "/.", True
    if path.endswith("/"):
        return cleaned.rstrip("/") + "/", True
    return cleaned, cleaned == "/"


def _name(abs_path: str) -> str:
    if abs_path.endswith("/."):
        return "."
    return posixpath.basename(abs_path.rstrip("/")) or "/"


def go_mode(st: os.stat_result) -> int:
    mode = st.st_mode & 0o777
    kind = stat.S_IFMT(st.st_mode)
    mode |= {stat.S_IFDIR: _GO_DIR, stat.S_IFLNK: _GO_SYMLINK, stat.S_IFIFO: _GO_PIPE,
             stat.S_IFSOCK: _GO_SOCKET, stat.S_IFBLK: _GO_DEVICE,
             stat.S_IFCHR: _GO_DEVICE | _GO_CHAR}.get(kind, 0)
    for bit, go in ((stat.S_ISUID, _GO_SETUID), (stat.S_ISGID, _GO_SETGID),
                    (stat.S_ISVTX, _GO_STICKY)):
        if st.st_mode & bit:
            mode |= go
    return mode


def rfc3339nano(ns: int) -> str:
    """Go's RFC3339Nano in UTC: trailing zeros of the fraction dropped."""
    secs, frac = divmod(ns, 1_000_000_000)
    text = datetime.datetime.fromtimestamp(secs, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    digits = f"{frac:09d}".rstrip("0")
    return f"{text}.{digits}Z" if digits else text + "Z"


def _locate_path(view: ContainerView, ref: str, path: str) -> tuple[Parts, os.stat_result,
                                                                     dict[str, Any]]:
    abs_path, follow = _abs_path(path)
    try:
        parts = view.resolve(abs_path, follow_last=follow)
        st = view.lstat(parts)
    except FileNotFoundError:
        st = None
    except NotADirectoryError:
        raise DarseError(f"lstat {abs_path}: not a directory") from None
    except OSError as exc:
        raise DarseError(f"lstat {abs_path}: {exc.strerror.lower()}") from None
    if st is None:
        raise NotFound(f"Could not find the file {path} in container {ref}")
    if follow and abs_path != "/" and not stat.S_ISDIR(st.st_mode):
        raise DarseError(f"lstat {abs_path}: not a directory")
    target = ""
    if stat.S_ISLNK(st.st_mode):
        target = display(view.resolve(abs_path, follow_last=True, lenient=True))
    info = {"name": _name(abs_path), "size": st.st_size, "mode": go_mode(st),
            "mtime": rfc3339nano(st.st_mtime_ns), "linkTarget": target}
    return parts, st, info


def path_stat(engine: Engine, ref: str, path: str) -> dict[str, Any]:
    """HEAD /containers/{id}/archive: the X-Docker-Container-Path-Stat of path."""
    with container_view(engine, ref) as (_doc, view):
        return _locate_path(view, ref, path)[2]


def archive_path(engine: Engine, ref: str, path: str, out: IO[bytes]) -> None:
    """GET /containers/{id}/archive: path (a folder with its content) as a tar, its top
    entry named as the path's last component."""
    with container_view(engine, ref) as (doc, view):
        parts, _st, info = _locate_path(view, ref, path)
        writer = tarstream.TarWriter(out)
        tarstream.write_tree(view, parts, info["name"], writer, ids=_container_ids(engine, doc))
        writer.close()
    engine._event(doc, "archive-path")


def _container_ids(engine: Engine, doc: dict[str, Any]) -> Any:
    """Host owners as the container sees them (userns-remap), or None: as dockerd, an
    archive shows the container's ids; one outside its range shows as nobody."""
    remap = engine.remap
    if remap is None or doc["HostConfig"].get("UsernsMode") == "host":
        return None

    def inside(uid: int, gid: int) -> tuple[int, int]:
        return ((uid - remap.uid if 0 <= uid - remap.uid < remap.size else OVERFLOW_ID),
                (gid - remap.gid if 0 <= gid - remap.gid < remap.size else OVERFLOW_ID))
    return inside


# --- extract -------------------------------------------------------------------------


class _Extractor:
    def __init__(self, view: ContainerView, dest: Parts, no_overwrite: bool,
                 owner: tuple[int, int] | None, shift: tuple[int, int] | None) -> None:
        self.view, self.dest, self.no_overwrite = view, dest, no_overwrite
        self.owner, self.shift = owner, shift
        self.dir_times: list[tuple[Parts, int]] = []

    def _inside(self, name: str) -> Parts:
        try:
            return clean(name)
        except UnsafePath:
            raise DarseError(f'{TAR_ERROR}"{name}" is outside of "{display(self.dest)}"'
                             ) from None

    def _place(self, rel: Parts) -> Parts:
        """The container path of a tar entry: its folders resolved in the container
        (links followed inside it, as Docker's chrooted untar follows them)."""
        if not rel:
            return self.dest
        parent = self.view.resolve((*self.dest, *rel[:-1]), lenient=True)
        return (*parent, rel[-1])

    def _meta(self, ti: tarfile.TarInfo) -> Meta:
        uid, gid = self.owner if self.owner is not None else (ti.uid, ti.gid)
        if self.shift is not None:
            uid, gid = uid + self.shift[0], gid + self.shift[1]
        xattrs = {k[len("SCHILY.xattr."):]: v.encode("utf-8", "surrogateescape")
                  for k, v in (ti.pax_headers or {}).items() if k.startswith("SCHILY.xattr.")}
        mtime = int(ti.mtime * 1_000_000_000)
        return Meta(uid, gid, ti.mode & 0o7777, xattrs, mtime, mtime)

    def entry(self, tf: tarfile.TarFile, ti: tarfile.TarInfo) -> None:
        parts = self._place(self._inside(ti.name))
        root, rel, mount = self.view.locate(parts)
        if not mount.rw:
            raise DarseError("mounted volume is marked read-only")
        existing = root.lstat(rel)
        if self.no_overwrite and existing is not None:
            if stat.S_ISDIR(existing.st_mode) and not ti.isdir():
                raise DarseError(f'{TAR_ERROR}cannot overwrite directory "{display(parts)}" '
                                 f'with non-directory "{display(self.dest)}"')
            if not stat.S_ISDIR(existing.st_mode) and ti.isdir():
                raise DarseError(f'{TAR_ERROR}cannot overwrite non-directory '
                                 f'"{display(parts)}" with directory "{display(self.dest)}"')
        meta = self._meta(ti)
        if not rel or (self.view.is_mount_point(parts) and existing is not None):
            if ti.isdir() and existing is not None and stat.S_ISDIR(existing.st_mode):
                return  # a mount point stays as mounted
            raise DarseError(f"{TAR_ERROR}unlinkat {display(parts)}: device or resource busy")
        if ti.isdir():
            meta.atime_ns = meta.mtime_ns = None  # once its entries are in
            root.mkdir(rel, meta)
            self.dir_times.append((parts, int(ti.mtime * 1_000_000_000)))
        elif ti.isreg():
            root.write(rel, tf.extractfile(ti), meta)
        elif ti.issym():
            meta.mode, meta.xattrs = None, {}
            root.symlink(rel, ti.linkname, meta)
        elif ti.islnk():
            target = posixpath.normpath(posixpath.join(display(self.dest), ti.linkname))
            if not (target + "/").startswith(display(self.dest).rstrip("/") + "/"):
                raise DarseError(f'{TAR_ERROR}invalid hardlink "{target}" -> "{ti.linkname}"')
            troot, trel, _ = self.view.locate(self._place(self._inside(ti.linkname)))
            if troot is not root or not trel:
                raise DarseError(f'{TAR_ERROR}invalid hardlink "{target}" -> '
                                 f'"{ti.linkname}": invalid cross-device link')
            try:
                root.hardlink(rel, trel)
            except FileNotFoundError:
                raise DarseError(f'{TAR_ERROR}hard link target "{ti.linkname}" is not in the '
                                 "archive") from None
        elif ti.ischr() or ti.isblk() or ti.isfifo():
            kind = stat.S_IFCHR if ti.ischr() else stat.S_IFBLK if ti.isblk() else stat.S_IFIFO
            root.mknod(rel, kind | 0o600, os.makedev(ti.devmajor, ti.devminor), meta)

    def finish(self) -> None:
        for parts, mtime in reversed(self.dir_times):
            root, rel, _ = self.view.locate(parts)
            try:
                root.set_times(rel, mtime, mtime)
            except (OSError, UnsafePath):
                pass  # replaced by a later entry


def extract(engine: Engine, ref: str, path: str, data: IO[bytes],
            no_overwrite_dir_non_dir: bool = False, copy_uid_gid: bool = False) -> None:
    """PUT /containers/{id}/archive: a tar unpacked into the folder at path."""
    abs_path, _ = _abs_path(path)
    with container_view(engine, ref) as (doc, view):
        try:
            dest = view.resolve(abs_path)
            st = view.lstat(dest)
        except FileNotFoundError:
            st = None
        except OSError:
            raise DarseError("extraction point is not a directory") from None
        if st is None:
            raise NotFound(f"Could not find the file {path} in container {ref}")
        if not stat.S_ISDIR(st.st_mode):
            raise DarseError("extraction point is not a directory")
        _root, _rel, mount = view.locate(dest)
        if mount.rootfs and doc["HostConfig"].get("ReadonlyRootfs"):
            raise DarseError("container rootfs is marked read-only")
        if not mount.rw:
            raise DarseError("mounted volume is marked read-only")
        owner = None
        if copy_uid_gid:
            rootfs = view.mounts[0].source
            user = users.resolve(rootfs, doc["Config"].get("User") or "")
            owner = (int(user["uid"]), int(user["gid"]))  # type: ignore[call-overload]
        shift = None
        if engine.remap is not None and doc["HostConfig"].get("UsernsMode") != "host":
            shift = (engine.remap.uid, engine.remap.gid)
        ex = _Extractor(view, dest, no_overwrite_dir_non_dir, owner, shift)
        try:
            with tarfile.open(fileobj=data, mode="r|", errorlevel=2) as tf:
                for ti in tf:
                    ex.entry(tf, ti)
        except tarfile.ReadError as exc:
            if "empty file" in str(exc):
                return  # no entries: nothing to do, as Docker
            raise DarseError(f"{TAR_ERROR}{_tar_reason(exc)}") from None
        except (tarfile.TarError, EOFError) as exc:
            raise DarseError(f"{TAR_ERROR}{_tar_reason(exc)}") from None
        except UnsafePath as exc:
            raise DarseError(f"{TAR_ERROR}{exc}") from None
        except OSError as exc:
            raise DarseError(f"{TAR_ERROR}{exc.strerror}: {exc.filename}") from None
        ex.finish()
    engine._event(doc, "extract-to-dir")


def _tar_reason(exc: Exception) -> str:
    text = str(exc)
    if "truncated" in text or "unexpected end" in text or isinstance(exc, EOFError):
        return "unexpected EOF"
    if "bad checksum" in text or "invalid header" in text:
        return "archive/tar: invalid tar header"
    return text
