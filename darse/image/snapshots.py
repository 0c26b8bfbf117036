"""Unpacked layers: DATA/overlay/<ChainID hex>/diff, one per layer chain, shared by every
image and container above it; and the overlay mount of an image's root filesystem."""

from __future__ import annotations

import os
import shutil
import tempfile

from darse import syscalls as sc
from darse.image.content import sha256_digest


def chain_ids(diff_ids: list[str]) -> list[str]:
    """ChainID(L0) = DiffID(L0); ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln))."""
    out: list[str] = []
    for diff_id in diff_ids:
        out.append(diff_id if not out else sha256_digest(f"{out[-1]} {diff_id}".encode()))
    return out


class Snapshots:
    def __init__(self, data_root: str) -> None:
        self.dir = os.path.join(data_root, "overlay")
        os.makedirs(self.dir, exist_ok=True)

    def path(self, chain_id: str) -> str:
        return os.path.join(self.dir, chain_id.split(":", 1)[1])

    def diff(self, chain_id: str) -> str:
        return os.path.join(self.path(chain_id), "diff")

    def exists(self, chain_id: str) -> bool:
        return os.path.isdir(self.diff(chain_id))

    def prepare(self) -> str:
        """A scratch snapshot to unpack into; commit() names it, discard() drops it."""
        tmp = tempfile.mkdtemp(dir=self.dir, prefix=".tmp-")
        os.mkdir(os.path.join(tmp, "diff"), 0o755)
        return tmp

    def commit(self, tmp: str, chain_id: str) -> None:
        try:
            os.rename(tmp, self.path(chain_id))
        except OSError:
            if not self.exists(chain_id):
                raise
            self.discard(tmp)  # another pull made it first: same content by construction

    def discard(self, tmp: str) -> None:
        shutil.rmtree(tmp, ignore_errors=True)

    def remove(self, chain_id: str) -> None:
        shutil.rmtree(self.path(chain_id), ignore_errors=True)

    def all(self) -> list[str]:
        return ["sha256:" + n for n in os.listdir(self.dir) if not n.startswith(".")]

    def clean_scratch(self) -> None:
        """Scratch dirs of an interrupted pull."""
        for name in os.listdir(self.dir):
            if name.startswith(".tmp-"):
                shutil.rmtree(os.path.join(self.dir, name), ignore_errors=True)

    def mount(self, chain: list[str], target: str, upper: str | None = None,
              work: str | None = None, lowers: list[str] | None = None) -> None:
        """overlay of the chain (lowest first) on target, writable if upper/work given;
        lowers, if given, replace the chain's directories (same order)."""
        lowers = list(reversed(lowers)) if lowers else [self.diff(c) for c in reversed(chain)]
        if upper is None:
            if len(lowers) == 1:
                sc.mount(lowers[0], target, None, sc.MS_BIND | sc.MS_RDONLY)
                sc.mount(None, target, None, sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY)
                return
            data = "lowerdir=" + ":".join(lowers)
        else:
            data = f"lowerdir={':'.join(lowers)},upperdir={upper},workdir={work}"
        sc.mount("overlay", target, "overlay", 0, data)
