"""darsed after its supervisor came back (darse-shim killed, a new one started): the
new shim took the running containers and execs back (darse.shim.adopt); the records of
those it did not find running are brought in line with what it knows."""

from __future__ import annotations

from typing import TYPE_CHECKING

from darse.errors import DarseError
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
    # Execs that ended while no shim ran: the new one took them back from the keeper and
    # saw their ends before darsed listened again.
    try:
        unheard = engine.shim.call("unheard")["execs"]
    except DarseError:  # a shim of an older darse, which keeps no execs across its death
        unheard = {}
    for key, code in unheard.items():
        engine.exec_finished(key.split("/", 1)[1], LOST if code is None else code)
