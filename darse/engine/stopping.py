"""docker stop: the stop signal, a grace period, then SIGKILL.

In two forms over the same steps: `stop` for the engine's own callers (restart, the
builder), and `stop_async` for the API, which waits out the grace period on the
container's state watch rather than in an executor thread: a `docker compose down` of a
hundred containers that ignore SIGTERM held a hundred threads for ten seconds (issue 10
item 1's class of mistake)."""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from darse.engine import waits
from darse.engine.state_watch import StateWatch
from darse.errors import DarseError
from darse.runtime import kill as signals

if TYPE_CHECKING:
    from darse.engine.engine import Engine

EXIT_WAIT = 30  # seconds for the exit to be recorded once the process is signalled


@dataclass
class Stopping:
    """A stop under way: the stop signal sent (or not needed)."""

    container_id: str
    grace: float  # seconds before SIGKILL; negative: SIGKILL at once
    signalled: bool  # False: the signal failed, the process went on its own


def begin(engine: Engine, ref: str, timeout: int | None, signal: str | None
          ) -> Stopping | bool:
    """The stop signal sent; True or False (stopped already, not running) when there is
    nothing to wait for."""
    doc = engine.containers.find(ref)
    if engine.restarts.cancel(doc["Id"]):
        return True
    if not doc["State"]["Running"]:
        return False
    cid = doc["Id"]
    engine._stopping.add(cid)  # noqa: SLF001 - the engine's own record of stops
    if timeout is None:
        timeout = doc["Config"].get("StopTimeout")
        timeout = 10 if timeout is None else timeout
    sig = signals.parse_signal(signal or doc["Config"].get("StopSignal") or "SIGTERM")
    try:
        if doc["State"]["Paused"]:
            engine.shim.call("pause", id=cid, pause=False)
        if timeout != 0:
            engine.shim.call("kill", id=cid, signal=sig)
    except DarseError:
        return Stopping(cid, 0, False)  # it went on its own meanwhile
    return Stopping(cid, timeout, True)


def force(engine: Engine, container_id: str) -> None:
    try:
        engine.shim.call("kill", id=container_id, signal=9, all=True)
    except DarseError:
        pass  # it went on its own meanwhile


def finish(engine: Engine, container_id: str) -> None:
    doc = engine.containers.get(container_id)
    if doc:
        engine._event(doc, "stop")  # noqa: SLF001


def start_again(engine: Engine, container_id: str) -> None:
    """restart's second half, once the container is stopped."""
    with engine._clocks.hold(container_id):  # noqa: SLF001
        doc = engine.containers.find(container_id)
        engine._start(doc)  # noqa: SLF001
    engine._event(doc, "restart")  # noqa: SLF001


def stop(engine: Engine, ref: str, timeout: int | None = None, signal: str | None = None
         ) -> bool:
    """Stop signal, then SIGKILL after the timeout; False if it was not running."""
    step = begin(engine, ref, timeout, signal)
    if isinstance(step, bool):
        return step
    wait_exit = engine._wait_exit  # noqa: SLF001
    if step.signalled and (step.grace < 0 or not wait_exit(step.container_id, step.grace)):
        force(engine, step.container_id)
    wait_exit(step.container_id, EXIT_WAIT)
    finish(engine, step.container_id)
    return True


async def stop_async(engine: Engine, watch: StateWatch, ref: str, timeout: int | None = None,
                     signal: str | None = None) -> bool:
    """stop, its waits asleep on the state watch."""
    loop = asyncio.get_running_loop()

    def call(fn: Any, *args: Any) -> Any:
        return loop.run_in_executor(None, functools.partial(fn, *args))

    step = await call(begin, engine, ref, timeout, signal)
    if isinstance(step, bool):
        return step
    cid = step.container_id
    if step.signalled and (step.grace < 0 or
                           not await waits.exited(engine, watch, cid, step.grace)):
        await call(force, engine, cid)
    await waits.exited(engine, watch, cid, EXIT_WAIT)
    await call(finish, engine, cid)
    return True
