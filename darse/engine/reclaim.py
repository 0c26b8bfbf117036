"""What a crash of darsed left behind, taken back when darsed starts."""

from __future__ import annotations

import sys
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

    for cid in live:
        if "/" in cid:
            continue
        doc = engine.containers.get(cid)
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
