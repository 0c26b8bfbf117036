"""docker diff: what a container changed in its filesystem, read from its overlay upper
folder (GET /containers/{id}/changes).

An entry of the upper folder is Added if the image's layers lack it, Changed if they
have it, and an overlay whiteout is a Deletion. What dockerd keeps in its init layer
(the /etc files darse binds, the kernel's filesystems' mount points) is not the
container's doing and is left out, as is a folder that only holds such entries. The
upper folder is the container's to fill: it is read through darse.fs, never followed.
"""

from __future__ import annotations

import os
import stat
from typing import TYPE_CHECKING, Any

from darse.fs.root import Parts, Root

if TYPE_CHECKING:
    from darse.engine.engine import Engine

MODIFIED, ADDED, DELETED = 0, 1, 2
INIT_PATHS = {("dev",), ("dev", "pts"), ("dev", "shm"), ("proc",), ("sys",),
              ("etc", "hosts"), ("etc", "hostname"), ("etc", "resolv.conf"),
              ("etc", "mtab"), (".dockerenv",)}
OPAQUE = "trusted.overlay.opaque"


def _whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


class _Lowers:
    """The image's layers, topmost first: what the container started from."""

    def __init__(self, dirs: list[str]) -> None:
        self.roots = [Root(d) for d in dirs]

    def close(self) -> None:
        for r in self.roots:
            r.close()

    def lookup(self, parts: Parts) -> os.stat_result | None:
        for root in self.roots:
            hidden = False
            for i in range(1, len(parts)):  # a parent whited out, or opaque, ends the search
                st = root.lstat(parts[:i])
                if st is not None and _whiteout(st):
                    return None
                if st is not None and stat.S_ISDIR(st.st_mode) and \
                        root.xattrs(parts[:i]).get(OPAQUE) == b"y":
                    hidden = True
            st = root.lstat(parts)
            if st is not None:
                return None if _whiteout(st) else st
            if hidden:
                return None
        return None


def changes(engine: Engine, ref: str) -> list[dict[str, Any]] | None:
    doc = engine.containers.find(ref)
    upper = doc["GraphDriver"]["Data"]["UpperDir"]
    chain = engine.images.chain(doc["Image"])
    dirs = [engine.images.snapshots.diff(c) for c in reversed(chain)]
    if engine.remap is not None and doc["HostConfig"].get("UsernsMode") != "host":
        # The container's lowers are the owner-shifted copies: compare with those.
        shifted = [os.path.join(engine.config.data_root, f"remap-{engine.remap.tag}",
                                c.split(":", 1)[1]) for c in reversed(chain)]
        dirs = [s if os.path.isdir(s) else d for s, d in zip(shifted, dirs, strict=True)]
    lowers = _Lowers(dirs)
    out: list[dict[str, Any]] = []
    try:
        with Root(upper) as root:
            _walk(root, lowers, (), out)
    except FileNotFoundError:
        pass  # removed meanwhile
    finally:
        lowers.close()
    return out or None


def _walk(root: Root, lowers: _Lowers, here: Parts, out: list[dict[str, Any]]) -> bool:
    """Report the changes under here; True if any was."""
    found = False
    for name in sorted(root.listdir(here)):
        parts = (*here, name)
        st = root.lstat(parts)
        if st is None:
            continue
        path = "/" + "/".join(parts)
        if _whiteout(st):
            out.append({"Path": path, "Kind": DELETED})
            found = True
            continue
        below = lowers.lookup(parts)
        mark = len(out)
        inner = stat.S_ISDIR(st.st_mode) and _walk(root, lowers, parts, out)
        if parts in INIT_PATHS:
            continue
        if below is not None and stat.S_ISDIR(st.st_mode) and not inner and \
                (st.st_mode, st.st_uid, st.st_gid) == (below.st_mode, below.st_uid,
                                                       below.st_gid):
            continue  # a folder made only to hold a mount point
        out.insert(mark, {"Path": path, "Kind": ADDED if below is None else MODIFIED})
        found = True
    return found
