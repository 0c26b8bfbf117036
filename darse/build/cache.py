"""The classic builder's cache: a step is the same when it runs on the same parent image
and would make the same image (its history line and its resulting config); COPY and ADD
name what they copy by a digest of its content, RUN the build args it sees, so a changed
file or argument misses the cache.

Local hits come from the image store (parent, key); `--cache-from` images are trusted as
docker trusts them: their history, step by step, must extend the parent's, and a hit in
the middle of one is restored as an image of its own made from its first layers."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from typing import TYPE_CHECKING, Any

from darse.build.tarcontext import TarContext
from darse.fs.root import Parts, Root

if TYPE_CHECKING:
    from darse.image.store import ImageStore


def key(created_by: str, config: dict[str, Any]) -> str:
    """The step: its history line and the runtime config it leaves."""
    text = json.dumps({"created_by": created_by, "config": config}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def content_digest(root: Root | TarContext, sources: list[Parts]) -> str:
    """What COPY/ADD copies, as docker names it in the history: file:<hash>, dir:<hash>
    or multi:<hash>; names, types, modes, link targets and bytes, never times or owners
    (the copies get their owner from the instruction)."""
    parts = []
    for src in sources:
        st = root.lstat(src)
        h = hashlib.sha256()
        if st is not None and stat.S_ISDIR(st.st_mode):
            _tree(root, src, "", h)
            parts.append("dir:" + h.hexdigest())
        else:
            _entry(root, src, "", h)
            parts.append("file:" + h.hexdigest())
    if len(parts) == 1:
        return parts[0]
    return "multi:" + hashlib.sha256(",".join(parts).encode()).hexdigest()


def _entry(root: Root | TarContext, where: Parts, rel: str, h: Any) -> bool:
    st = root.lstat(where)
    if st is None:
        return False
    kind = stat.S_IFMT(st.st_mode)
    h.update(f"{rel}\0{kind:o}\0{stat.S_IMODE(st.st_mode):o}\0".encode())
    if kind == stat.S_IFLNK:
        h.update(root.readlink(where).encode() + b"\0")
    elif kind == stat.S_IFREG:
        h.update(f"{st.st_size}\0".encode())
        if isinstance(root, TarContext):
            h.update(root.file_digest(where))  # digested when the context was indexed
            return False
        fd = root.open_file(where)
        try:
            with open(fd, "rb", closefd=False) as f:
                h.update(hashlib.file_digest(f, "sha256").digest())
        finally:
            os.close(fd)
    elif kind in (stat.S_IFCHR, stat.S_IFBLK):
        h.update(f"{st.st_rdev}\0".encode())
    return kind == stat.S_IFDIR


def _tree(root: Root | TarContext, top: Parts, rel: str, h: Any) -> None:
    todo = [(top, rel)]
    while todo:
        where, at = todo.pop()
        if _entry(root, where, at, h):
            for name in sorted(root.listdir(where), reverse=True):
                todo.append(((*where, name), f"{at}/{name}"))


def lookup(images: ImageStore, parent: str, step_key: str, created_by: str,
           sources: list[str] | None, make: Any = None) -> str | None:
    """The image this step made before, if any. sources are --cache-from's image ids
    (None without --cache-from: every local image is a source; with it, only those named,
    so a build whose named ones are all missing has no cache, as docker's);
    make(parent_config_layers, history) registers a restored image when a source has the
    step in the middle of its history."""
    local = images.cached_child(parent, step_key)
    if sources is None:
        return local
    if local and any(_descends(images, s, local) for s in sources):
        return local
    parent_cfg = images.config(parent) if parent else {"history": [], "rootfs": {}}
    history = parent_cfg.get("history") or []
    diff_ids = (parent_cfg.get("rootfs") or {}).get("diff_ids") or []
    for source in sources:
        cfg = images.config(source)
        s_history = cfg.get("history") or []
        s_diffs = (cfg.get("rootfs") or {}).get("diff_ids") or []
        if len(s_history) <= len(history) or s_history[:len(history)] != history \
                or s_diffs[:len(diff_ids)] != diff_ids:
            continue
        entry = s_history[len(history)]
        if entry.get("created_by") != created_by:
            continue
        if len(s_history) == len(history) + 1:
            images.set_parent(source, parent, step_key)
            return source
        if make is None:
            continue
        layers = len(diff_ids) + (0 if entry.get("empty_layer") else 1)
        return make(s_diffs[:layers], s_history[:len(history) + 1])
    return None


def _descends(images: ImageStore, image: str, ancestor: str) -> bool:
    seen = 0
    while image and seen < 10000:
        if image == ancestor:
            return True
        image = images.parent(image)
        seen += 1
    return False
