"""darsed after its supervisor came back (darse-shim killed, a new one started): the
new shim took the running containers back from the runtime's state (darse.shim.adopt);
the records of those it did not find running are brought in line with what it knows."""

from __future__ import annotations

from typing import TYPE_CHECKING

from darse.runtime.state import now

if TYPE_CHECKING:
    from darse.engine.engine import Engine

LOST = 255  # dockerd's exit code for a container whose end nobody saw


def resync(engine: Engine) -> None:
    live = {c["id"]: c for c in engine.shim.call("list")["containers"]}
    for doc in engine.containers.shared():
        if not doc["State"]["Running"] or doc["State"]["Restarting"]:
            continue
        info = live.get(doc["Id"])
        if info is None:
            engine._on_exit(doc["Id"], LOST, now())
        elif not info["running"]:
            engine._on_exit(doc["Id"], info["exit_code"], info["finished_at"])
