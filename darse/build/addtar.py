"""ADD of a local tar archive (plain, gzip, bzip2 or xz): extracted into the destination
folder through darse.fs, its entries keeping their owners, modes and times, as docker's
untar does. `.wh.` names are files here, not whiteouts: an archive is not a layer."""

from __future__ import annotations

import lzma
import os
import stat
import tarfile
import zlib
from collections.abc import Callable
from typing import IO

from darse.build.copy import Copy
from darse.errors import InvalidArgument
from darse.fs.root import Meta, Parts, Root, UnsafePath, clean

_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")


def is_archive(ctx: Root, parts: Parts) -> bool:
    """A regular file that is a tar, compressed or not."""
    st = ctx.lstat(parts)
    if st is None or not stat.S_ISREG(st.st_mode):
        return False
    fd = ctx.open_file(parts)
    try:
        head = os.pread(fd, 512, 0)
        if head.startswith(_MAGIC):
            return _readable(fd)
    finally:
        os.close(fd)
    if len(head) < 512:
        return False
    try:
        tarfile.TarInfo.frombuf(head, "utf-8", "surrogateescape")
        return True
    except tarfile.HeaderError:
        return False


def _readable(fd: int) -> bool:
    try:
        with open(os.dup(fd), "rb") as f, tarfile.open(fileobj=f, mode="r|*") as tf:
            return tf.next() is not None
    except (tarfile.TarError, EOFError, OSError):
        return False


def extract(ctx: Root, parts: Parts, image: Root, op: Copy) -> None:
    try:
        where, _ = image.makedirs(op.dest)
    except NotADirectoryError as exc:
        raise InvalidArgument(f"failed to copy files: mkdir {exc.filename}: not a "
                              "directory") from None
    fd = ctx.open_file(parts)
    try:
        with open(fd, "rb", closefd=False) as f:
            unpack(f, image, where, op.cmd)
    finally:
        os.close(fd)


def unpack(f: IO[bytes], image: Root, where: Parts, what: str,
           keep: Callable[[Parts], bool] | None = None) -> None:
    """A tar stream's entries under where, through the Root; only those keep() wants."""
    dirs: list[tuple[Parts, int]] = []
    try:
        with tarfile.open(fileobj=f, mode="r|*") as tf:
            for ti in tf:
                try:
                    name = clean(ti.name)
                except UnsafePath:
                    raise InvalidArgument(f"{what} failed: archive entry {ti.name!r} "
                                          "leaves its folder") from None
                if not name or (keep is not None and not keep(name)):
                    continue
                dest = (*where, *name)
                mtime = int(ti.mtime * 1_000_000_000)
                meta = Meta(ti.uid, ti.gid, ti.mode & 0o7777, {}, mtime, mtime)
                if ti.isdir():
                    meta.atime_ns = meta.mtime_ns = None
                    image.mkdir(dest, meta)
                    dirs.append((dest, mtime))
                elif ti.isreg():
                    image.write(dest, tf.extractfile(ti), meta)
                elif ti.issym():
                    meta.mode = None
                    image.symlink(dest, ti.linkname, meta)
                elif ti.islnk():
                    image.hardlink(dest, (*where, *clean(ti.linkname)))
                elif ti.ischr() or ti.isblk() or ti.isfifo():
                    kind = stat.S_IFCHR if ti.ischr() else \
                        stat.S_IFBLK if ti.isblk() else stat.S_IFIFO
                    image.mknod(dest, kind | 0o600, os.makedev(ti.devmajor, ti.devminor),
                                meta)
    except (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError, OSError) as exc:
        if isinstance(exc, OSError) and not isinstance(exc, tarfile.TarError) \
                and exc.errno is not None:
            raise
        raise InvalidArgument(f"{what} failed: {exc}") from None
    for dest, mtime in reversed(dirs):
        image.set_times(dest, mtime, mtime)
