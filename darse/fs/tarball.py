"""A tree inside a Root written as a tar stream, every entry read through the Root's
descriptors: a running container that swaps a file for a link to the host's /etc/shadow
while darsed reads its tree gets its own link in the tar, never the host's file."""

from __future__ import annotations

import os
import stat
import tarfile
from typing import IO

from darse.errors import DarseError
from darse.fs.root import Parts, Root

_KINDS = {stat.S_IFCHR: tarfile.CHRTYPE, stat.S_IFBLK: tarfile.BLKTYPE,
          stat.S_IFIFO: tarfile.FIFOTYPE}


class _FdReader:
    def __init__(self, fd: int) -> None:
        self.fd = fd

    def read(self, n: int = -1) -> bytes:
        return os.read(self.fd, n if n >= 0 else 1 << 20)


def _info(name: str, st: os.stat_result) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.mode, ti.uid, ti.gid = stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid
    ti.mtime = int(st.st_mtime)
    return ti


class _Packer:
    def __init__(self, root: Root, tf: tarfile.TarFile) -> None:
        self.root, self.tf = root, tf
        self.links: dict[tuple[int, int], str] = {}

    def entry(self, parts: Parts, name: str) -> None:
        st = self.root.lstat(parts)
        if st is None:
            return  # gone meanwhile: a running container's tree moves
        ti = _info(name, st)
        if stat.S_ISDIR(st.st_mode):
            ti.type = tarfile.DIRTYPE
            self.tf.addfile(ti)
            for child in sorted(self.root.listdir(parts)):
                self.entry((*parts, child), f"{name.rstrip('/')}/{child}" if name else child)
            return
        if st.st_nlink > 1 and not stat.S_ISLNK(st.st_mode):
            key = (st.st_dev, st.st_ino)
            if key in self.links:
                ti.type, ti.linkname = tarfile.LNKTYPE, self.links[key]
                self.tf.addfile(ti)
                return
            self.links[key] = name
        if stat.S_ISREG(st.st_mode):
            try:
                fd = self.root.open_file(parts)
            except (OSError, DarseError):
                return  # replaced by something else since the lstat
            try:
                ti.size = os.fstat(fd).st_size
                self.tf.addfile(ti, _FdReader(fd))
            finally:
                os.close(fd)
        elif stat.S_ISLNK(st.st_mode):
            ti.type, ti.linkname = tarfile.SYMTYPE, self.root.readlink(parts)
            self.tf.addfile(ti)
        elif stat.S_IFMT(st.st_mode) in _KINDS:
            ti.type = _KINDS[stat.S_IFMT(st.st_mode)]
            ti.devmajor, ti.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
            self.tf.addfile(ti)
        # sockets carry nothing


def write_tar(root: Root, parts: Parts, out: IO[bytes], name: str = "") -> None:
    """parts (a folder or any entry) as a tar on out, its entries named from `name`
    ('' for a folder's content at the top, as docker export writes it)."""
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tf:
        packer = _Packer(root, tf)
        st = root.lstat(parts)
        if st is not None and stat.S_ISDIR(st.st_mode) and not name:
            for child in sorted(root.listdir(parts)):
                packer.entry((*parts, child), child)
        else:
            packer.entry(parts, name or (parts[-1] if parts else "."))
