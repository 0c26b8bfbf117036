"""A tree as a tar stream, read through a Root-like view (every entry reached through
directory fds, links archived as links and never followed).

The stream ends as Go's archive/tar ends one, with two zero blocks and no padding to a
10 KiB record: the docker CLI prints the bytes it copied, and they match dockerd's.
Only a file's `security.capability` xattr is kept, as Docker's archives keep it.
"""

from __future__ import annotations

import os
import stat
import tarfile
from collections.abc import Callable
from typing import IO, Protocol

Parts = tuple[str, ...]
BLOCK = tarfile.BLOCKSIZE
CHUNK = 1 << 20
KEPT_XATTRS = ("security.capability",)


class View(Protocol):
    def lstat(self, parts: Parts) -> os.stat_result | None: ...
    def listdir(self, parts: Parts) -> list[str]: ...
    def readlink(self, parts: Parts) -> str: ...
    def open_file(self, parts: Parts) -> int: ...
    def xattrs(self, parts: Parts) -> dict[str, bytes]: ...


class TarWriter:
    """Headers and data onto out, counting the bytes written."""

    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self.size = 0

    def _write(self, data: bytes) -> None:
        self.out.write(data)
        self.size += len(data)

    def add(self, ti: tarfile.TarInfo, fd: int | None = None) -> None:
        self._write(ti.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape"))
        if fd is None or not ti.size:
            return
        left = ti.size
        while left > 0:
            chunk = os.read(fd, min(CHUNK, left))
            if not chunk:  # it shrank while read: the header's size is kept
                chunk = b"\0" * min(CHUNK, left)
            self._write(chunk)
            left -= len(chunk)
        if ti.size % BLOCK:
            self._write(b"\0" * (BLOCK - ti.size % BLOCK))

    def close(self) -> None:
        self._write(b"\0" * (2 * BLOCK))


def info_of(name: str, st: os.stat_result) -> tarfile.TarInfo | None:
    """The header of an entry (None for a socket, which a tar cannot hold)."""
    ti = tarfile.TarInfo(name)
    ti.mode = stat.S_IMODE(st.st_mode)
    ti.uid, ti.gid = st.st_uid, st.st_gid
    ti.uname = ti.gname = ""
    ti.mtime = int(st.st_mtime)  # seconds, as a ustar header holds them
    kind = stat.S_IFMT(st.st_mode)
    if kind == stat.S_IFREG:
        ti.type, ti.size = tarfile.REGTYPE, st.st_size
    elif kind == stat.S_IFDIR:
        ti.type = tarfile.DIRTYPE
    elif kind == stat.S_IFLNK:
        ti.type = tarfile.SYMTYPE
    elif kind in (stat.S_IFCHR, stat.S_IFBLK):
        ti.type = tarfile.CHRTYPE if kind == stat.S_IFCHR else tarfile.BLKTYPE
        ti.devmajor, ti.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
    elif kind == stat.S_IFIFO:
        ti.type = tarfile.FIFOTYPE
    else:
        return None
    return ti


def write_tree(view: View, parts: Parts, arcname: str, writer: TarWriter,
               skip: Callable[[Parts], bool] | None = None,
               ids: Callable[[int, int], tuple[int, int]] | None = None) -> None:
    """The entry at parts (and a directory's content), named arcname in the tar; ids
    maps the owners on disk to those the tar shows (a user namespace's)."""
    links: dict[tuple[int, int], str] = {}
    todo: list[tuple[Parts, str]] = [(parts, arcname)]
    while todo:
        here, name = todo.pop()
        st = view.lstat(here)
        if st is None:
            continue  # gone since its folder was listed
        ti = info_of(name + "/" if stat.S_ISDIR(st.st_mode) and not name.endswith("/")
                     else name, st)
        if ti is None:
            continue
        if ids is not None:
            ti.uid, ti.gid = ids(ti.uid, ti.gid)
        if ti.type == tarfile.SYMTYPE:
            ti.linkname = view.readlink(here)
        elif ti.type == tarfile.REGTYPE:
            if st.st_nlink > 1:
                first = links.setdefault((st.st_dev, st.st_ino), name)
                if first != name:
                    ti.type, ti.linkname, ti.size = tarfile.LNKTYPE, first, 0
                    writer.add(ti)
                    continue
            caps = {k: v for k, v in view.xattrs(here).items() if k in KEPT_XATTRS}
            if caps:
                ti.pax_headers = {"SCHILY.xattr." + k: v.decode("utf-8", "surrogateescape")
                                  for k, v in caps.items()}
            fd = view.open_file(here)
            try:
                writer.add(ti, fd)
            finally:
                os.close(fd)
            continue
        writer.add(ti)
        if ti.type == tarfile.DIRTYPE:
            base = name.rstrip("/")
            for child in sorted(view.listdir(here), reverse=True):
                sub = (*here, child)
                if skip is None or not skip(sub):
                    todo.append((sub, f"{base}/{child}" if base else f"/{child}"))
