"""The build context as the client sent it: the tar is indexed, not unpacked, and each
regular file's content digested on the way. A build whose COPY and ADD steps all come
from the cache never writes the context to disk (on a disk mounted with discard,
creating and deleting a few hundred files costs more than the whole cached build); the
first step that copies from it unpacks it, once.

The index answers what the context's folder would (lstat, listdir, readlink, resolve
with links followed inside the context): the sources of COPY/ADD, their digests for the
cache, the Dockerfile and .dockerignore are read from it with the same rules."""

from __future__ import annotations

import bz2
import errno
import gzip
import hashlib
import lzma
import os
import shutil
import stat
import tarfile
import tempfile
import threading
import zlib
from dataclasses import dataclass
from typing import IO

from darse.errors import InvalidArgument
from darse.fs.root import Parts, Root, UnsafePath, clean, resolve_in

_COMPRESSED = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")


@dataclass
class Entry:
    st: os.stat_result
    offset: int = 0
    link: str = ""
    digest: bytes = b""


def _stat(mode: int, size: int = 0, uid: int = 0, gid: int = 0, mtime: int = 0
          ) -> os.stat_result:
    return os.stat_result((mode, 0, 0, 1, uid, gid, size, mtime, mtime, mtime))


class TarContext:
    """The context tar (seekable, uncompressed, or decompressed here first) and its
    index; path() unpacks it into a folder the first time a step needs the files."""

    def __init__(self, tar: IO[bytes], tmpdir: str) -> None:
        self.tmpdir = tmpdir
        self.tar = self._plain(tar)
        self.entries: dict[Parts, Entry] = {(): Entry(_stat(stat.S_IFDIR | 0o755))}
        self.children: dict[Parts, set[str]] = {(): set()}
        self._folder = ""
        self._lock = threading.Lock()
        self._index()

    def _plain(self, tar: IO[bytes]) -> IO[bytes]:
        head = tar.read(6)
        tar.seek(0)
        if not head.startswith(_COMPRESSED):
            return tar
        out = tempfile.TemporaryFile(dir=self.tmpdir)
        src: IO[bytes]
        if head.startswith(b"\x1f\x8b"):
            src = gzip.GzipFile(fileobj=tar)
        elif head.startswith(b"BZh"):
            src = bz2.BZ2File(tar)
        else:
            src = lzma.LZMAFile(tar)
        try:
            with src:
                shutil.copyfileobj(src, out, 1 << 20)
        except (EOFError, OSError, zlib.error, lzma.LZMAError) as exc:
            out.close()
            raise InvalidArgument(f"unexpected EOF: {exc}") from None
        tar.close()
        out.seek(0)
        return out

    def _index(self) -> None:
        try:
            with tarfile.open(fileobj=self.tar, mode="r:", errorlevel=2) as tf:
                for ti in tf:
                    self._add(ti)
        except (tarfile.TarError, EOFError) as exc:
            raise InvalidArgument(f"unexpected EOF: {exc}") from None

    def _add(self, ti: tarfile.TarInfo) -> None:
        try:
            parts = clean(ti.name)
        except UnsafePath:
            raise InvalidArgument(f"context entry {ti.name!r} leaves the context") from None
        if not parts:
            return
        for i in range(1, len(parts)):
            self._dir(parts[:i])
        kind = (stat.S_IFDIR if ti.isdir() else stat.S_IFREG if ti.isreg() else
                stat.S_IFLNK if ti.issym() else stat.S_IFCHR if ti.ischr() else
                stat.S_IFBLK if ti.isblk() else stat.S_IFIFO if ti.isfifo() else 0)
        if ti.islnk():  # a hard link: the same content under a second name
            target = self.entries.get(clean(ti.linkname))
            if target is None or not stat.S_ISREG(target.st.st_mode):
                raise InvalidArgument(f"context entry {ti.name!r}: hard link target "
                                      f"{ti.linkname!r} is not in the context")
            self._put(parts, target)
            return
        if not kind:
            return  # sockets and the like: no content
        st = _stat(kind | (ti.mode & 0o7777), ti.size if ti.isreg() else 0, ti.uid, ti.gid,
                   int(ti.mtime))
        entry = Entry(st, ti.offset_data, ti.linkname if ti.issym() else "")
        if ti.isreg():
            entry.digest = self._digest(ti.offset_data, ti.size)
        if kind == stat.S_IFDIR and parts in self.entries and \
                stat.S_ISDIR(self.entries[parts].st.st_mode):
            self.entries[parts].st = st  # a folder seen before its own entry
            return
        self._put(parts, entry)

    def _dir(self, parts: Parts) -> None:
        entry = self.entries.get(parts)
        if entry is None or not stat.S_ISDIR(entry.st.st_mode):
            self._put(parts, Entry(_stat(stat.S_IFDIR | 0o755)))

    def _put(self, parts: Parts, entry: Entry) -> None:
        old = self.entries.get(parts)
        if old is not None and stat.S_ISDIR(old.st.st_mode) and \
                not stat.S_ISDIR(entry.st.st_mode):
            self._drop(parts)
        self.entries[parts] = entry
        self.children[parts[:-1]].add(parts[-1])
        if stat.S_ISDIR(entry.st.st_mode):
            self.children.setdefault(parts, set())

    def _drop(self, parts: Parts) -> None:
        for name in list(self.children.pop(parts, ())):
            self._drop((*parts, name))
        self.entries.pop(parts, None)
        self.children.get(parts[:-1], set()).discard(parts[-1])

    def _digest(self, offset: int, size: int) -> bytes:
        h = hashlib.sha256()
        fd = self.tar.fileno()
        while size > 0:
            chunk = os.pread(fd, min(size, 1 << 20), offset)
            if not chunk:
                raise InvalidArgument("unexpected EOF")
            h.update(chunk)
            offset += len(chunk)
            size -= len(chunk)
        return h.digest()

    # --- what a Root answers -----------------------------------------------------------

    def lstat(self, parts: Parts) -> os.stat_result | None:
        entry = self.entries.get(parts)
        return entry.st if entry is not None else None

    def listdir(self, parts: Parts) -> list[str]:
        if parts not in self.children:
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR),
                                     "/" + "/".join(parts))
        return sorted(self.children[parts])

    def readlink(self, parts: Parts) -> str:
        return self.entries[parts].link

    def file_digest(self, parts: Parts) -> bytes:
        return self.entries[parts].digest

    def resolve(self, path: str) -> Parts:
        """As Root.resolve: links followed as if the context were '/'."""
        return resolve_in(self, path)

    def read_bytes(self, parts: Parts, limit: int) -> bytes:
        entry = self.entries[parts]
        return os.pread(self.tar.fileno(), min(entry.st.st_size, limit), entry.offset)

    def remove(self, parts: Parts) -> None:
        self._drop(parts)

    # --- the files, when a step needs them ---------------------------------------------

    def path(self) -> str:
        """The context as a folder (what the index holds, nothing it left out)."""
        with self._lock:
            if not self._folder:
                folder = tempfile.mkdtemp(prefix="build-", dir=self.tmpdir)
                try:
                    self._unpack(folder)
                except BaseException:
                    shutil.rmtree(folder, ignore_errors=True)
                    raise
                self._folder = folder
            return self._folder

    def _unpack(self, folder: str) -> None:
        from darse.build.addtar import unpack

        self.tar.seek(0)
        with Root(folder) as root:
            unpack(self.tar, root, (), "unpacking the build context",
                   keep=lambda parts: parts in self.entries)

    def close(self) -> None:
        self.tar.close()
        if self._folder:
            shutil.rmtree(self._folder, ignore_errors=True)
