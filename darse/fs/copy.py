"""A tree copied from one Root into another, as `cp -a` and Docker's tar-and-untar copies
do, every read and write made through the roots' directory fds.

Links are copied as links and followed on neither side; hard links within the tree stay
hard links; devices and FIFOs are made, never opened; sockets are left out. An entry
replaces what the destination has at its place, a directory merging into a directory
(Docker's untar does the same, so a link an earlier copy left is replaced, not written
through). Who owns the copies is the caller's choice: the same ids, ids shifted into a
user namespace's range, or one owner for all (COPY --chown).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable

from darse.fs.root import Meta, Parts, Root

Owner = Callable[[int, int], tuple[int, int]]
XattrFilter = Callable[[str], bool]


def same_owner(uid: int, gid: int) -> tuple[int, int]:
    return uid, gid


def shifted_owner(uid_base: int, gid_base: int) -> Owner:
    """Ids moved into a range starting at the bases (userns-remap's layer copies)."""
    return lambda uid, gid: (uid + uid_base, gid + gid_base)


def fixed_owner(uid: int, gid: int) -> Owner:
    """One owner for every copy (COPY and ADD: root, or --chown)."""
    return lambda _uid, _gid: (uid, gid)


def all_xattrs(name: str) -> bool:
    return True


class _Copier:
    def __init__(self, src: Root, dst: Root, owner: Owner, xattrs: XattrFilter) -> None:
        self.src, self.dst, self.owner, self.wanted = src, dst, owner, xattrs
        self.links: dict[tuple[int, int], Parts] = {}

    def meta(self, sparts: Parts, st: os.stat_result, times: bool = True) -> Meta:
        uid, gid = self.owner(st.st_uid, st.st_gid)
        if stat.S_ISLNK(st.st_mode):
            return Meta(uid, gid, None, {}, st.st_atime_ns, st.st_mtime_ns)
        xattrs = {k: v for k, v in self.src.xattrs(sparts).items() if self.wanted(k)}
        return Meta(uid, gid, stat.S_IMODE(st.st_mode), xattrs,
                    st.st_atime_ns if times else None, st.st_mtime_ns if times else None)

    def entry(self, sparts: Parts, dparts: Parts) -> bool:
        """One entry (a directory without its content); True for a directory."""
        st = self.src.lstat(sparts)
        if st is None:
            return False  # gone since it was listed
        kind = stat.S_IFMT(st.st_mode)
        if kind == stat.S_IFDIR:
            self.dst.mkdir(dparts, self.meta(sparts, st, times=False))
            return True
        if kind == stat.S_IFLNK:
            self.dst.symlink(dparts, self.src.readlink(sparts), self.meta(sparts, st))
        elif kind == stat.S_IFREG:
            if st.st_nlink > 1:
                first = self.links.setdefault((st.st_dev, st.st_ino), dparts)
                if first != dparts:
                    self.dst.hardlink(dparts, first)
                    return False
            fd = self.src.open_file(sparts)
            try:
                self.dst.write(dparts, fd, self.meta(sparts, st))
            finally:
                os.close(fd)
        elif kind in (stat.S_IFCHR, stat.S_IFBLK, stat.S_IFIFO):
            self.dst.mknod(dparts, kind | 0o600, st.st_rdev, self.meta(sparts, st))
        return False

    def tree(self, sdir: Parts, ddir: Parts) -> None:
        made: list[tuple[Parts, Parts]] = []
        todo = [(sdir, ddir)]
        while todo:
            s, d = todo.pop()
            for name in sorted(self.src.listdir(s)):
                if self.entry((*s, name), (*d, name)):
                    todo.append(((*s, name), (*d, name)))
                    made.append(((*s, name), (*d, name)))
        # A directory's times last: making its entries changed them.
        for s, d in reversed(made):
            st = self.src.lstat(s)
            if st is not None:
                self.dst.set_times(d, st.st_atime_ns, st.st_mtime_ns)


def copy_tree(src: Root, sdir: Parts, dst: Root, ddir: Parts, owner: Owner = same_owner,
              xattrs: XattrFilter = all_xattrs) -> None:
    """The content of the directory sdir (not sdir itself) into the directory ddir."""
    _Copier(src, dst, owner, xattrs).tree(sdir, ddir)


def copy_entry(src: Root, sparts: Parts, dst: Root, dparts: Parts, owner: Owner = same_owner,
               xattrs: XattrFilter = all_xattrs) -> None:
    """One entry, and a directory's content with it."""
    copier = _Copier(src, dst, owner, xattrs)
    if copier.entry(sparts, dparts):
        copier.tree(sparts, dparts)
        st = src.lstat(sparts)
        if st is not None:
            dst.set_times(dparts, st.st_atime_ns, st.st_mtime_ns)
