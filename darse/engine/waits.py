"""POST /containers/{id}/wait, served from asyncio: the request sleeps on its container's
state watch and reads the record only when it changed (a thread each was issue 10
item 1's hang)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from darse.engine.state_watch import StateWatch
from darse.errors import InvalidArgument

if TYPE_CHECKING:
    from darse.engine.engine import Engine

CONDITIONS = ("not-running", "next-exit", "removed")


def check_condition(condition: str) -> str:
    """Docker's conditions, refused before the stream's 200 is sent."""
    if condition not in CONDITIONS:
        raise InvalidArgument(f"invalid condition: \"{condition}\"")
    return condition


async def wait(engine: Engine, watch: StateWatch, doc: dict[str, Any],
               condition: str) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    cid = doc["Id"]
    finished = doc["State"]["FinishedAt"]
    with watch.watching(cid) as changed:
        while True:
            changed.clear()
            cur = await loop.run_in_executor(None, engine.containers.get, cid)
            if cur is None:
                code = engine._removed_exits.get(cid, doc["State"]["ExitCode"])  # noqa: SLF001
                return {"StatusCode": code, "Error": None}
            state = cur["State"]
            if condition == "not-running" and not state["Running"]:
                break
            if condition == "next-exit" and not state["Running"] and \
                    state["FinishedAt"] != finished:
                break
            await changed.wait()
    return {"StatusCode": cur["State"]["ExitCode"], "Error": None}


async def exited(engine: Engine, watch: StateWatch, container_id: str, timeout: float
                 ) -> bool:
    """True once the container is no longer running (or gone); False after timeout."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    with watch.watching(container_id) as changed:
        while True:
            changed.clear()
            doc = await loop.run_in_executor(None, engine.containers.get, container_id)
            if doc is None or not doc["State"]["Running"]:
                return True
            left = deadline - loop.time()
            if left <= 0:
                return False
            try:
                await asyncio.wait_for(changed.wait(), left)
            except TimeoutError:
                return False
