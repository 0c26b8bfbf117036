"""All or nothing for what writes into the image store (import, load, pull): what an
operation made is noted as it goes, and taken back if the operation fails, unless an
image references it by then (the same layer pulled by another request meanwhile). A
full disk is said as Go says it: "no space left on device"."""

from __future__ import annotations

import contextlib
import errno
import sqlite3
from collections.abc import Iterator
from typing import TYPE_CHECKING

from darse.errors import SystemFailure

if TYPE_CHECKING:
    from darse.image.store import ImageStore


class Made:
    """The layers (chain ids) and blobs (digests) one operation added."""

    def __init__(self) -> None:
        self.layers: set[str] = set()
        self.blobs: set[str] = set()

    def undo(self, store: ImageStore) -> None:
        keep_layers = set(store.layer_users())
        for image_id in store.image_ids():
            keep_layers.update(store.chain(image_id))
        for chain_id in self.layers - keep_layers:
            store.db.execute("DELETE FROM layers WHERE chain_id=?", (chain_id,))
            store.snapshots.remove(chain_id)
            store.layer_removed(chain_id)
        for digest in self.blobs - store.referenced_blobs():
            store.content.delete(digest)


def full(exc: BaseException) -> bool:
    return (isinstance(exc, OSError) and exc.errno == errno.ENOSPC) or (
        isinstance(exc, sqlite3.OperationalError) and "full" in str(exc))


@contextlib.contextmanager
def all_or_nothing(store: ImageStore) -> Iterator[Made]:
    made = Made()
    try:
        yield made
    except BaseException as exc:
        try:
            made.undo(store)
        except (OSError, sqlite3.Error):
            pass  # the next start's collection takes what is left (darse.engine.reclaim)
        if full(exc):
            where = getattr(exc, "filename", None)
            raise SystemFailure(f"write {where}: no space left on device" if where
                                else "no space left on device") from None
        raise
