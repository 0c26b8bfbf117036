"""What a crash of darsed left behind, taken back when darsed starts."""

from __future__ import annotations

import os
import shutil
import sqlite3
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from darse.errors import DarseError

if TYPE_CHECKING:
    from darse.engine.engine import Engine


def half_made(engine: Engine, live: dict[str, dict[str, Any]]) -> None:
    """Containers the supervisor holds for a record that is not running: darsed died
    between the runtime's create and its start (or before it recorded the start). Their
    process waits for a start nobody will send while holding the rootfs mount and the
    network namespace; the next start would make a new one beside it. They go, with what
    they hold (the namespace pins go with reconcile's sweep of stale ones)."""
    from darse.engine import volumes as mounts

    records = {d["Id"]: d for d in engine.containers.shared()}
    for cid in live:
        if "/" in cid:
            continue
        doc = records.get(cid)
        if doc is None or doc["State"]["Running"]:
            continue  # not darse's (a CRI container), or re-adopted by reconcile
        try:
            engine.shim.call("delete", id=cid)
        except (DarseError, OSError) as exc:
            print(f"darsed: container {cid[:12]} left by a crash: {exc}", file=sys.stderr)
            continue
        engine._unmount_rootfs(cid)
        mounts.release(engine, doc)
        engine.networks.release_container(cid)


def leftovers(engine: Engine) -> None:
    """At start, before any request: what interrupted work left in the data root.
    Nothing is in flight yet, so whatever sits in the scratch places is a leftover:
    partial downloads and build contexts in blobs/ingest, scratch snapshots (overlay's
    dot folders), container folders without a record; then the image store's collection
    drops layers and blobs no image or container references. One listing per folder and
    the database's layer table: no walk of the stores' contents."""
    _empty(engine.images.content.tmpdir, lambda _name: True)
    _empty(engine.images.snapshots.dir, lambda name: name.startswith("."))
    from darse.engine import volumes as mounts

    for doc in engine.containers.shared():
        if not doc["State"]["Running"] and not os.path.isdir(engine._dir(doc["Id"])):
            # Recorded, its folder never made: a create cut short leaves nothing.
            print(f"darsed: container {doc['Id'][:12]} was never made: removed",
                  file=sys.stderr)
            try:
                engine.containers.remove(doc["Id"])
                mounts.remove_anonymous(engine, doc)
            except (DarseError, OSError, sqlite3.Error) as exc:  # a full disk: next time
                print(f"darsed: container {doc['Id'][:12]}: {exc}", file=sys.stderr)
    recorded = {r["id"] for r in engine.db.execute("SELECT id FROM containers")}
    for name in _listing(engine.containers_dir):
        if name not in recorded:
            engine._unmount_rootfs(name)
    _empty(engine.containers_dir, lambda name: name not in recorded
           and not os.path.ismount(os.path.join(engine.containers_dir, name, "rootfs")))
    try:
        engine.images.gc()
    except (DarseError, OSError, sqlite3.Error) as exc:  # a full disk: next time
        print(f"darsed: collecting unreferenced layers and blobs: {exc}", file=sys.stderr)


def _listing(folder: str) -> list[str]:
    try:
        return os.listdir(folder)
    except FileNotFoundError:
        return []


def _empty(folder: str, match: Callable[[str], bool]) -> None:
    for name in _listing(folder):
        if not match(name):
            continue
        path = os.path.join(folder, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
