"""COPY straight from the context's tar (tarcontext.py) into the image, as darse.fs.copy
copies from a folder: the same entries, modes, times and owner rules, hard links kept,
every write made through the image's Root. No context file is written to disk first."""

from __future__ import annotations

import os
import stat

from darse.build.tarcontext import TarContext
from darse.fs.root import Meta, Parts, Root


class _Slice:
    """One file's bytes inside the tar, read with pread."""

    def __init__(self, fd: int, offset: int, size: int) -> None:
        self.fd, self.offset, self.left = fd, offset, size

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        if n <= 0:
            return b""
        data = os.pread(self.fd, n, self.offset)
        self.offset += len(data)
        self.left -= len(data)
        return data


class _Copier:
    def __init__(self, ctx: TarContext, image: Root, owner: tuple[int, int]) -> None:
        self.ctx, self.image, self.owner = ctx, image, owner
        self.links: dict[int, Parts] = {}

    def meta(self, st: os.stat_result, times: bool = True) -> Meta:
        ns = int(st.st_mtime) * 1_000_000_000 if times else None
        mode = None if stat.S_ISLNK(st.st_mode) else stat.S_IMODE(st.st_mode)
        return Meta(*self.owner, mode, {}, ns, ns)

    def entry(self, src: Parts, dst: Parts) -> bool:
        entry = self.ctx.entries.get(src)
        if entry is None:
            return False
        st = entry.st
        kind = stat.S_IFMT(st.st_mode)
        if kind == stat.S_IFDIR:
            self.image.mkdir(dst, self.meta(st, times=False))
            return True
        if kind == stat.S_IFLNK:
            self.image.symlink(dst, entry.link, self.meta(st))
        elif kind == stat.S_IFREG:
            first = self.links.setdefault(id(entry), dst)
            if first != dst:
                self.image.hardlink(dst, first)
                return False
            self.image.write(dst, _Slice(self.ctx.tar.fileno(), entry.offset, st.st_size),
                             self.meta(st))
        else:
            self.image.mknod(dst, kind | 0o600, st.st_rdev, self.meta(st))
        return False

    def tree(self, src: Parts, dst: Parts) -> None:
        made: list[tuple[Parts, Parts]] = []
        todo = [(src, dst)]
        while todo:
            s, d = todo.pop()
            for name in self.ctx.listdir(s):
                if self.entry((*s, name), (*d, name)):
                    todo.append(((*s, name), (*d, name)))
                    made.append(((*s, name), (*d, name)))
        for s, d in reversed(made):  # a folder's time last: its entries changed it
            ns = int(self.ctx.entries[s].st.st_mtime) * 1_000_000_000
            self.image.set_times(d, ns, ns)


def copy_tree(ctx: TarContext, src: Parts, image: Root, dst: Parts,
              owner: tuple[int, int]) -> None:
    """The content of the context folder src into the image folder dst."""
    _Copier(ctx, image, owner).tree(src, dst)


def copy_entry(ctx: TarContext, src: Parts, image: Root, dst: Parts,
               owner: tuple[int, int]) -> None:
    """One entry, a folder with its content."""
    copier = _Copier(ctx, image, owner)
    if copier.entry(src, dst):
        copier.tree(src, dst)
        ns = int(ctx.entries[src].st.st_mtime) * 1_000_000_000
        image.set_times(dst, ns, ns)
