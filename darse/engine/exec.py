"""docker exec: the exec table and the process an exec runs.

An exec is a process of its container's: as dockerd does (ContainerExecStart loads the
container's spec and keeps its process), it starts from the container's own OCI process
(user, capabilities, no_new_privs, rlimits, OOM score, AppArmor/SELinux labels) and
changes only what docker exec sets: the command, environment, working directory,
terminal, -u, and --privileged's capabilities. The runtime adds the rest of the
container's state (seccomp filter, namespaces, so the same masked paths, cgroups).
"""

from __future__ import annotations

import copy
import json
import os
import secrets
import threading
from typing import TYPE_CHECKING, Any

from darse.engine import environ, users
from darse.errors import Conflict, InvalidArgument, NotFound, SystemFailure
from darse.runtime import capabilities

if TYPE_CHECKING:
    from darse.engine.engine import Engine


def create(engine: Engine, ref: str, body: dict[str, Any]) -> str:
    """POST /containers/{id}/exec: record the exec; nothing runs yet."""
    doc = engine.containers.find(ref)
    if not doc["State"]["Running"]:
        raise Conflict(f"Container {doc['Id']} is not running")
    if doc["State"]["Paused"]:
        raise Conflict(f"Container {doc['Id']} is paused, unpause the container before exec")
    if not body.get("Cmd"):
        raise InvalidArgument("No exec command specified")
    exec_id = secrets.token_hex(32)
    with engine._lock:
        engine.execs[exec_id] = {
            "ID": exec_id, "ContainerID": doc["Id"], "Running": False, "ExitCode": None,
            "ProcessConfig": {"tty": bool(body.get("Tty")), "entrypoint": body["Cmd"][0],
                              "arguments": body["Cmd"][1:], "privileged":
                              bool(body.get("Privileged")), "user": body.get("User", "")},
            "OpenStdin": bool(body.get("AttachStdin")),
            "OpenStdout": bool(body.get("AttachStdout")),
            "OpenStderr": bool(body.get("AttachStderr")),
            "CanRemove": False, "DetachKeys": body.get("DetachKeys", ""), "Pid": 0,
            "body": body, "done": threading.Event(),
        }
    engine._event(doc, f"exec_create: {' '.join(body['Cmd'])}", execID=exec_id)
    return exec_id


def _container_process(engine: Engine, container_id: str) -> dict[str, Any]:
    """The process of the spec the container runs with (written at its start)."""
    path = os.path.join(engine.containers_dir, container_id, "config.json")
    try:
        with open(path) as f:
            return json.load(f)["process"]
    except (OSError, ValueError, KeyError) as exc:
        raise SystemFailure(f"cannot read the spec of container {container_id}: "
                            f"{exc}") from None


def process(engine: Engine, exec_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(exec record, OCI process) to run; the caller starts it through the shim."""
    with engine._lock:
        ex = engine.execs.get(exec_id)
        if ex is None:
            raise NotFound(f"No such exec instance: {exec_id}")
        if ex["Running"] or ex["ExitCode"] is not None:
            raise Conflict(f"Error: Exec command {exec_id} has already run")
        ex["Running"] = True
    try:
        return ex, _build(engine, ex)
    except BaseException:
        finished(engine, exec_id, 126)  # what dockerd records for an exec that cannot start
        raise


def _build(engine: Engine, ex: dict[str, Any]) -> dict[str, Any]:
    doc = engine.containers.find(ex["ContainerID"])
    body = ex["body"]
    proc = copy.deepcopy(_container_process(engine, doc["Id"]))
    proc.pop("consoleSize", None)
    rootfs = os.path.join(engine.containers_dir, doc["Id"], "rootfs")
    if body.get("User"):
        proc["user"] = users.resolve(rootfs, body["User"])
    env = environ.process_env(doc, rootfs, int(proc["user"].get("uid", 0)),
                              bool(body.get("Tty")), body.get("Env") or [])
    from darse.engine import links

    if doc["HostConfig"].get("Links") and links.legacy(doc["HostConfig"]):  # as dockerd's

        own = {item.partition("=")[0] for item in env}
        env = [e for e in links.environment(engine, doc) if e.partition("=")[0] not in own] \
            + env
    proc.update(args=body["Cmd"], env=env, terminal=bool(body.get("Tty")),
                cwd=body.get("WorkingDir") or doc["Config"].get("WorkingDir") or "/")
    if body.get("Privileged"):
        # dockerd: every capability in the three sets; the container's seccomp filter
        # and no_new_privs stay.
        caps = capabilities.bounding_of_self()
        proc["capabilities"] = {"bounding": caps, "effective": caps, "permitted": caps}
    if body.get("ConsoleSize"):
        h, w = body["ConsoleSize"]
        proc["consoleSize"] = {"height": h, "width": w}
    return proc


def started(engine: Engine, exec_id: str, pid: int) -> None:
    with engine._lock:
        engine.execs[exec_id]["Pid"] = pid


def finished(engine: Engine, exec_id: str, code: int) -> None:
    with engine._lock:
        ex = engine.execs.get(exec_id)
        if ex:
            ex.update(Running=False, ExitCode=code)
            ex["done"].set()


def inspect(engine: Engine, exec_id: str) -> dict[str, Any]:
    ex = engine.execs.get(exec_id)
    if ex is None:
        raise NotFound(f"No such exec instance: {exec_id}")
    return {k: v for k, v in ex.items() if k not in ("body", "done")}
