"""COPY and ADD (and WORKDIR's folder): changes written into the image as it stands, an
overlay of its layers whose upper directory becomes the new layer, as Docker's classic
builder makes them.

Writing into the whole image means the destination's links resolve the way the image's own
processes see them: inside the image, never on the host. Sources resolve inside the
context, as if it were '/' (a link to /etc/passwd is the context's etc/passwd); a `..`
that climbs out of it is refused. Every write is made through darse.fs, so a link one
source leaves in the destination is replaced by the next source, never written through.
"""

from __future__ import annotations

import errno
import os
import posixpath
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from darse import syscalls as sc
from darse.build import indexcopy
from darse.build.ignore import glob_regex, has_magic
from darse.build.tarcontext import TarContext
from darse.errors import InvalidArgument, NotFound
from darse.fs import copy as fscopy
from darse.fs.root import Meta, Parts, Root, UnsafePath, clean
from darse.image.snapshots import Snapshots


def _capability_only(name: str) -> bool:
    return name == "security.capability"  # the one attribute Docker's copy carries


@dataclass
class Copy:
    """One COPY or ADD: cmd is its name for the messages, dest absolute already; owner
    None keeps root's (0:0), mode None the source's."""

    cmd: str
    sources: list[str]
    dest: str
    owner: tuple[int, int] | None = None
    mode: int | None = None

    def check(self) -> None:
        """What is wrong without looking at any file, before any work."""
        for src in self.sources:
            rel = src.lstrip("/")
            try:
                clean(rel)
            except UnsafePath:
                raise InvalidArgument(f"{self.cmd} failed: forbidden path outside the build "
                                      f"context: {rel} ()") from None

    def check_count(self, count: int) -> None:
        if count > 1 and not self.dest.endswith("/"):
            raise InvalidArgument(f"When using {self.cmd} with more than one source file, "
                                  "the destination must be a directory and end with a /")


def expand(ctx: Root, op: Copy) -> list[tuple[str, Parts]]:
    """The sources, wildcards matched against the context's paths as docker does (`*`
    and `?` stay within a folder; a matched folder is copied whole), each with where it
    is in the context; the errors docker gives for a missing one."""
    op.check()
    out: list[tuple[str, Parts]] = []
    for src in op.sources:
        rel = "/".join(clean(src.lstrip("/")))
        if not has_magic(rel):
            out.append((src, _source(ctx, src, op.cmd)))
            continue
        regex = glob_regex(rel, double_star=False)
        todo: list[Parts] = [()]
        while todo:
            where = todo.pop()
            for name in sorted(ctx.listdir(where), reverse=True):
                parts = (*where, name)
                path = "/".join(parts)
                st = ctx.lstat(parts)
                if st is None:
                    continue
                if regex.match(path):
                    out.append((path, parts))
                elif stat.S_ISDIR(st.st_mode):
                    todo.append(parts)
    if not out:
        raise InvalidArgument(f"{op.cmd} failed: no source files were specified")
    op.check_count(len(out))
    return out


@contextmanager
def changed(snapshots: Snapshots, chain: list[str], change: Callable[[Root], None]
            ) -> Iterator[str]:
    """change() applied to the image whose layers are chain, through an overlay of them;
    the directory of what it changed (the overlay's upper one) while the block lasts."""
    work = tempfile.mkdtemp(dir=snapshots.dir, prefix=".build-")
    mounted = False
    try:
        upper = os.path.join(work, "upper")
        os.mkdir(upper, 0o755)
        image_root = upper
        if chain:
            image_root = os.path.join(work, "merged")
            os.mkdir(image_root)
            os.mkdir(os.path.join(work, "work"))
            snapshots.mount(chain, image_root, upper, os.path.join(work, "work"))
            mounted = True
        try:
            with Root(image_root) as image:
                change(image)
        finally:
            if mounted:
                _unmount(image_root)
                mounted = False
        yield upper
    finally:
        if not mounted:  # never delete through a mount that is still there
            shutil.rmtree(work, ignore_errors=True)


def _unmount(target: str) -> None:
    try:
        sc.umount2(target)
    except OSError:
        sc.umount2(target, sc.MNT_DETACH)


def copy_one(ctx: Root | TarContext, image: Root, src: str, source: Parts, op: Copy
             ) -> None:
    st = ctx.lstat(source)
    if st is None:
        raise _not_found(src, op.cmd)
    is_dir = stat.S_ISDIR(st.st_mode)
    uid, gid = op.owner or (0, 0)
    try:
        if is_dir:
            # As Docker: the folders made on the way are root's, the destination the
            # owner's if it is new; what exists keeps its owner and mode.
            where, made = image.makedirs(op.dest)
        else:
            target = _file_target(image, op, posixpath.basename(src.rstrip("/")))
    except OSError as exc:
        if exc.errno in (errno.ENOTDIR, errno.ENOENT, errno.ELOOP):
            raise InvalidArgument(f"failed to copy files: mkdir {exc.filename}: "
                                  f"{exc.strerror.lower()}") from None
        raise
    owner = fscopy.fixed_owner(uid, gid)
    from_tar = isinstance(ctx, TarContext)
    if is_dir:
        if made:
            image.set_meta(where, Meta(uid, gid))  # --chmod is for what is copied
        if from_tar:
            indexcopy.copy_tree(ctx, source, image, where, (uid, gid))
        else:
            fscopy.copy_tree(ctx, source, image, where, owner, _capability_only)
        if op.mode is not None:
            _chmod_tree(ctx, source, image, where, Meta(uid, gid, op.mode))
    else:
        if from_tar:
            indexcopy.copy_entry(ctx, source, image, target, (uid, gid))
        else:
            fscopy.copy_entry(ctx, source, image, target, owner, _capability_only)
        if op.mode is not None and not stat.S_ISLNK(st.st_mode):
            image.set_meta(target, Meta(uid, gid, op.mode))


def _chmod_tree(ctx: Root | TarContext, source: Parts, image: Root, where: Parts,
                meta: Meta) -> None:
    """--chmod onto what a folder's copy made (links have no mode of their own)."""
    todo = [((), source)]
    while todo:
        rel, src = todo.pop()
        for name in ctx.listdir(src):
            st = ctx.lstat((*src, name))
            if st is None or stat.S_ISLNK(st.st_mode):
                continue
            image.set_meta((*where, *rel, name), meta)
            if stat.S_ISDIR(st.st_mode):
                todo.append(((*rel, name), (*src, name)))


def _source(ctx: Root, src: str, cmd: str) -> Parts:
    try:
        return ctx.resolve(src)
    except (FileNotFoundError, NotADirectoryError):
        raise _not_found(src, cmd) from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InvalidArgument(f"{cmd} failed: {src}: too many levels of symbolic "
                                  "links") from None
        raise


def _not_found(src: str, cmd: str) -> NotFound:
    return NotFound(f"{cmd} failed: file not found in build context or excluded by "
                    f".dockerignore: stat {src}: file does not exist")


def _file_target(image: Root, op: Copy, name: str) -> Parts:
    """Where a file source goes: into the destination if it ends with '/' or is a folder
    already, else at it (its links followed, as Docker does: COPY onto an image's link
    to /etc/passwd writes the image's /etc/passwd). New folders on the way are the
    owner's."""
    if op.dest.endswith("/"):
        where, _ = image.makedirs(op.dest, owner=op.owner or (0, 0))
        return (*where, name)
    where = image.resolve(op.dest, create=True, owner=op.owner or (0, 0))
    st = image.lstat(where)
    if st is not None and stat.S_ISDIR(st.st_mode):
        return (*where, name)
    return where
