"""Restart policies with dockerd's back-off (issue 10 item 6: 65 restarts in 10 s where
dockerd made 7).

As dockerd's restart manager: the first restart 100 ms after the exit, each next one
twice as late up to a minute; a run of 10 s or more starts the count again. While it
waits, the container is shown as dockerd shows it: Status "restarting", Running and
Restarting true, Pid 0; `stop`/`kill` cancel the wait (it stays exited), `rm` refuses it
without force."""

from __future__ import annotations

import threading
import traceback
from typing import TYPE_CHECKING, Any

from darse.errors import Conflict, DarseError

if TYPE_CHECKING:
    from darse.engine.engine import Engine

INITIAL_DELAY = 0.1
MAXIMUM_DELAY = 60.0
RESET_AFTER = 10.0  # seconds of running that start the back-off again


def should_restart(policy: dict[str, Any], code: int, count: int, by_user: bool) -> bool:
    name = policy.get("Name") or "no"
    if by_user or name == "no":
        return False
    if name == "on-failure":
        limit = policy.get("MaximumRetryCount") or 0
        return code != 0 and (limit == 0 or count < limit)
    return name in ("always", "unless-stopped")


def next_delay(previous: float | None, ran: float) -> float:
    """Seconds before the next restart, after one that waited `previous` and ran `ran`."""
    if previous is None or ran >= RESET_AFTER:
        return INITIAL_DELAY
    return min(previous * 2, MAXIMUM_DELAY)


class RestartManager:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._guard = threading.Lock()
        self._delays: dict[str, float] = {}
        self._timers: dict[str, threading.Timer] = {}

    def after_exit(self, container_id: str, code: int, by_user: bool) -> None:
        """Called once an exit is recorded: a restart scheduled if the policy says so."""
        from darse.engine.views import unix

        engine = self.engine
        with engine._clocks.hold(container_id):  # noqa: SLF001 - the engine's own lock
            doc = engine.containers.get(container_id)
            if doc is None or doc["State"]["Running"] or container_id in engine._stopping \
                    or not should_restart(doc["HostConfig"].get("RestartPolicy") or {}, code,
                                          doc["RestartCount"], by_user):
                with self._guard:
                    self._delays.pop(container_id, None)
                return
            ran = unix(doc["State"]["FinishedAt"]) - unix(doc["State"]["StartedAt"])
            with self._guard:
                delay = self._delays[container_id] = next_delay(
                    self._delays.get(container_id), ran)
            doc["State"].update(Status="restarting", Running=True, Restarting=True, Pid=0)
            engine.containers.save(doc)
            timer = threading.Timer(delay, self._fire, (container_id,))
            timer.daemon = True
            with self._guard:
                self._timers[container_id] = timer
            timer.start()

    def _fire(self, container_id: str) -> None:
        engine = self.engine
        with self._guard:
            self._timers.pop(container_id, None)
        with engine._clocks.hold(container_id):  # noqa: SLF001
            doc = engine.containers.get(container_id)
            if doc is None or not doc["State"]["Restarting"]:
                return  # cancelled meanwhile
            doc["State"].update(Status="exited", Running=False, Restarting=False)
            doc["RestartCount"] += 1
            try:
                engine._start(doc)  # noqa: SLF001
                engine._event(doc, "restart")  # noqa: SLF001
            except DarseError:
                pass  # _start recorded why, and the container as exited
            except Exception:  # noqa: BLE001 - a bug: logged, the container left exited
                traceback.print_exc()
                engine.containers.save(doc)

    def cancel(self, container_id: str) -> bool:
        """stop, kill: a container waiting to restart stays exited. False if it was not."""
        with self._guard:
            timer = self._timers.pop(container_id, None)
        if timer is not None:
            timer.cancel()
        with self.engine._clocks.hold(container_id):  # noqa: SLF001
            doc = self.engine.containers.get(container_id)
            if doc is None or not doc["State"]["Restarting"]:
                return False
            doc["State"].update(Status="exited", Running=False, Restarting=False)
            self.engine.containers.save(doc)
        return True

    def before_remove(self, doc: dict[str, Any], force: bool) -> dict[str, Any]:
        """rm: refused for a restarting container unless forced (dockerd's message)."""
        if not doc["State"].get("Restarting"):
            return doc
        if not force:
            raise Conflict(f"You cannot remove a restarting container {doc['Id']}. Stop the "
                           "container before attempting removal or force remove")
        self.cancel(doc["Id"])
        return self.engine.containers.get(doc["Id"]) or doc

    @staticmethod
    def refuse(doc: dict[str, Any], attach: bool = False) -> None:
        """exec, pause, top, attach: nothing to act on while a container waits to
        restart (dockerd's messages)."""
        if doc["State"].get("Restarting"):
            raise Conflict("You cannot attach to a restarting container, wait until it is "
                           "running" if attach else f"Container {doc['Id']} is restarting, "
                           "wait until the container is running")

    def forget(self, container_id: str) -> None:
        with self._guard:
            self._delays.pop(container_id, None)
            timer = self._timers.pop(container_id, None)
        if timer is not None:
            timer.cancel()
