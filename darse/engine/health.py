"""Healthchecks: HEALTHCHECK of the image or --health-*, probed as dockerd probes them.

Each probe is an exec of the container's own process (as `docker exec`), started through
the shim; State.Health keeps the status (starting, healthy, unhealthy), the failing streak
and the last five results. Every container's probes run on one asyncio loop in one
thread: a container costs a task, not a thread, and a probe that hangs holds nothing but
its own socket until its timeout.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import secrets
import struct
import threading
import time
import traceback
from typing import TYPE_CHECKING, Any

from darse.errors import DarseError, InvalidArgument
from darse.runtime.state import now

if TYPE_CHECKING:
    from darse.engine.engine import Engine

SECOND = 10**9
DEFAULT_INTERVAL = 30 * SECOND  # dockerd's defaults for a zero field
DEFAULT_TIMEOUT = 30 * SECOND
DEFAULT_RETRIES = 3
MINIMUM_DURATION = 10**6  # 1 ms: dockerd refuses a shorter non-zero duration
MAX_LOG_ENTRIES = 5
MAX_OUTPUT = 4096  # bytes of a probe's output kept, as dockerd
STATUSES = ("starting", "healthy", "unhealthy", "none")
_HEADER = struct.Struct(">BI")


def merge(config: dict[str, Any], image: dict[str, Any]) -> None:
    """The container's Healthcheck over the image's: what is unset comes from the image."""
    mine, theirs = config.get("Healthcheck"), image.get("Healthcheck")
    if not theirs:
        return
    if not mine:
        config["Healthcheck"] = copy.deepcopy(theirs)
        return
    if not mine.get("Test"):
        mine["Test"] = theirs.get("Test")
    for key in ("Interval", "Timeout", "StartPeriod", "Retries"):
        if not mine.get(key) and theirs.get(key):
            mine[key] = theirs[key]


def validate(config: dict[str, Any]) -> None:
    """dockerd's refusals of a Healthcheck (its words)."""
    hc = config.get("Healthcheck")
    if not hc:
        return
    for key in ("Interval", "Timeout", "StartPeriod"):
        value = hc.get(key) or 0
        if value != 0 and value < MINIMUM_DURATION:
            raise InvalidArgument(f"{key} in Healthcheck cannot be less than 1ms")
    if (hc.get("Retries") or 0) < 0:
        raise InvalidArgument("Retries in Healthcheck cannot be negative")
    test = hc.get("Test") or []
    if test and test[0] not in ("NONE", "CMD", "CMD-SHELL"):
        raise InvalidArgument(f"unknown type of health check: {test[0]}")


def probe_command(config: dict[str, Any]) -> list[str] | None:
    """The command to probe with; None for a container without a healthcheck."""
    test = (config.get("Healthcheck") or {}).get("Test") or []
    if not test or test[0] == "NONE":
        return None
    if test[0] == "CMD-SHELL":
        return ["/bin/sh", "-c", " ".join(test[1:])]
    return list(test[1:]) or None


def status_suffix(state: dict[str, Any]) -> str:
    """What `docker ps` adds to a running container's STATUS."""
    health = state.get("Health")
    if not health or not state.get("Running"):
        return ""
    if health["Status"] == "starting":
        return " (health: starting)"
    return f" ({health['Status']})"


def matches(state: dict[str, Any], values: list[str]) -> bool:
    """ps --filter health=: none for a container without a healthcheck."""
    for v in values:
        if v not in STATUSES:
            raise InvalidArgument(f"Unrecognised filter value for health: {v}")
    health = state.get("Health")
    return (health["Status"] if health else "none") in values


class HealthMonitor:
    """The probes of all running containers, on one loop in one thread."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._guard = threading.Lock()

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        with self._guard:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, daemon=True,
                                 name="healthchecks").start()
                self._loop = loop
            return self._loop

    def started(self, doc: dict[str, Any]) -> None:
        """At a container's start: Health reset to starting (the caller saves the
        record) and its probes scheduled."""
        if probe_command(doc["Config"]) is None:
            doc["State"].pop("Health", None)
            return
        doc["State"]["Health"] = {"Status": "starting", "FailingStreak": 0, "Log": []}
        cid = doc["Id"]
        loop = self._running_loop()
        loop.call_soon_threadsafe(self._schedule, cid)

    def resume(self, doc: dict[str, Any]) -> None:
        """A container darsed re-adopted at its start: its probes go on."""
        if doc["State"].get("Health") and probe_command(doc["Config"]) is not None:
            self._running_loop().call_soon_threadsafe(self._schedule, doc["Id"])

    def stopped(self, doc: dict[str, Any]) -> None:
        """At its exit: no more probes; dockerd shows a stopped container unhealthy."""
        if doc["State"].get("Health"):
            doc["State"]["Health"]["Status"] = "unhealthy"
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._cancel, doc["Id"])

    def _schedule(self, cid: str) -> None:
        self._cancel(cid)
        self._tasks[cid] = asyncio.get_running_loop().create_task(self._monitor(cid))

    def _cancel(self, cid: str) -> None:
        task = self._tasks.pop(cid, None)
        if task is not None:
            task.cancel()

    async def _monitor(self, cid: str) -> None:
        try:
            while True:
                # Not checked for Running here: the start that scheduled this task may
                # not have saved the record yet.
                doc = self.engine.containers.get(cid)
                if doc is None:
                    return
                hc = doc["Config"].get("Healthcheck") or {}
                await asyncio.sleep((hc.get("Interval") or DEFAULT_INTERVAL) / SECOND)
                doc = self.engine.containers.get(cid)
                if doc is None or not doc["State"]["Running"] or "Health" not in doc["State"]:
                    return
                if doc["State"]["Paused"]:
                    continue  # dockerd skips the probes of a paused container
                cmd = probe_command(doc["Config"])
                if cmd is None:
                    return
                timeout = (hc.get("Timeout") or DEFAULT_TIMEOUT) / SECOND
                result = await self._probe(doc, cmd, timeout)
                await asyncio.get_running_loop().run_in_executor(
                    None, self._record, cid, result)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - a bug: logged, the container's probes end
            traceback.print_exc()
        finally:
            if self._tasks.get(cid) is asyncio.current_task():
                del self._tasks[cid]

    async def _probe(self, doc: dict[str, Any], cmd: list[str],
                     timeout: float) -> dict[str, Any]:
        from darse.engine import environ

        engine = self.engine
        cid = doc["Id"]
        exec_id = secrets.token_hex(32)
        started = now()
        try:
            with open(os.path.join(engine.containers_dir, cid, "config.json")) as f:
                proc = json.load(f)["process"]
        except (OSError, ValueError, KeyError) as exc:
            return _result(started, -1, f"cannot read the container's spec: {exc}")
        proc.pop("consoleSize", None)
        rootfs = os.path.join(engine.containers_dir, cid, "rootfs")
        proc.update(args=cmd, terminal=False, env=environ.process_env(
            doc, rootfs, int(proc.get("user", {}).get("uid", 0)), False))
        text = " ".join(cmd)
        engine._event(doc, f"exec_create: {text}", execID=exec_id)  # noqa: SLF001
        engine._event(doc, f"exec_start: {text}", execID=exec_id)  # noqa: SLF001
        output = bytearray()
        code = -1
        writer = None
        pid = 0
        try:
            reader, writer = await asyncio.open_unix_connection(engine.shim.path)
            writer.write((json.dumps({"op": "exec", "id": cid, "exec_id": exec_id,
                                      "process": proc, "stdin": False}) + "\n").encode())
            await writer.drain()

            async def run() -> int:
                nonlocal pid
                reply = json.loads(await reader.readline() or b"{}")
                if not reply.get("ok") and "op" not in reply:
                    raise DarseError(reply.get("error", "darse-shim closed the exec"))
                pid = reply.get("pid", 0)
                while True:
                    stream, length = _HEADER.unpack(await reader.readexactly(_HEADER.size))
                    data = await reader.readexactly(length) if length else b""
                    if stream == 3:
                        return int(json.loads(data).get("exit_code") or 0)
                    output.extend(data[:MAX_OUTPUT - len(output)])

            code = await asyncio.wait_for(run(), timeout)
            text_out = output.decode(errors="replace")
        except TimeoutError:
            if pid:
                try:
                    os.kill(pid, 9)
                except ProcessLookupError:
                    pass
            text_out = f"Health check exceeded timeout ({_go_duration(timeout)})"
        except (OSError, ValueError, asyncio.IncompleteReadError, DarseError) as exc:
            text_out = str(exc)
        finally:
            if writer is not None:
                writer.close()
        engine._event(doc, "exec_die", execID=exec_id, exitCode=str(code))  # noqa: SLF001
        return _result(started, code, text_out)

    def _record(self, cid: str, result: dict[str, Any]) -> None:
        from darse.engine.views import unix

        engine = self.engine
        with engine._clocks.hold(cid):  # noqa: SLF001 - the engine's own lock
            doc = engine.containers.get(cid)
            if doc is None or not doc["State"]["Running"] or "Health" not in doc["State"]:
                return
            health = doc["State"]["Health"]
            before = health["Status"]
            hc = doc["Config"].get("Healthcheck") or {}
            if result["ExitCode"] == 0:
                health.update(Status="healthy", FailingStreak=0)
            elif not (before == "starting" and time.time() - unix(doc["State"]["StartedAt"])
                      < (hc.get("StartPeriod") or 0) / SECOND):
                # A failure in the start period does not count (dockerd's rule).
                health["FailingStreak"] += 1
                if health["FailingStreak"] >= (hc.get("Retries") or DEFAULT_RETRIES):
                    health["Status"] = "unhealthy"
            health["Log"] = (health["Log"] + [result])[-MAX_LOG_ENTRIES:]
            engine.containers.save(doc)
        if health["Status"] != before:
            engine._event(doc, f"health_status: {health['Status']}")  # noqa: SLF001


def _result(started: str, code: int, output: str) -> dict[str, Any]:
    return {"Start": started, "End": now(), "ExitCode": code, "Output": output}


def _go_duration(seconds: float) -> str:
    """As Go prints a time.Duration (30s, 1.5s, 500ms)."""
    if seconds >= 1:
        return f"{seconds:g}s"
    return f"{seconds * 1000:g}ms"
