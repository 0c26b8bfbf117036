"""What `docker ps` lists: the ContainerSummary of the Engine API, with its filters."""

from __future__ import annotations

import datetime
import fnmatch
import json
import os
from typing import TYPE_CHECKING, Any

from darse.engine.containers import ZERO_TIME, Listed
from darse.errors import InvalidArgument
from darse.units import human_duration

if TYPE_CHECKING:
    from darse.engine.engine import Engine

FILTERS = ("id", "name", "label", "status", "exited", "ancestor", "before", "since",
           "network", "health", "is-task", "volume", "publish", "expose")
STATUSES = ("created", "restarting", "running", "removing", "paused", "exited", "dead")


def unix(ts: str) -> float:
    if not ts or ts.startswith("0001"):
        return 0.0
    from darse.engine.logs import _rfc3339

    return _rfc3339(ts)


def status_text(state: dict[str, Any]) -> str:
    now = datetime.datetime.now(datetime.UTC).timestamp()
    if state.get("Restarting"):
        return f"Restarting ({state['ExitCode']}) " \
               f"{human_duration(now - unix(state['FinishedAt']))} ago"
    if state["Running"]:
        from darse.engine.health import status_suffix

        text = "Up " + human_duration(now - unix(state["StartedAt"]))
        return text + " (Paused)" if state["Paused"] else text + status_suffix(state)
    if state["FinishedAt"] == ZERO_TIME:
        return "Created"
    return f"Exited ({state['ExitCode']}) {human_duration(now - unix(state['FinishedAt']))} ago"


def state_name(state: dict[str, Any]) -> str:
    if state.get("Restarting"):
        return "restarting"
    if state["Running"]:
        return "paused" if state["Paused"] else "running"
    return "exited" if state["FinishedAt"] != ZERO_TIME else "created"


def command(doc: dict[str, Any]) -> str:
    def quote(arg: str) -> str:
        return arg if arg and " " not in arg and "'" not in arg else f"'{arg}'"

    return " ".join([doc["Path"], *[quote(a) for a in doc["Args"]]])


def rw_size(doc: dict[str, Any]) -> int:
    """Bytes the container wrote (its overlay upper folder), as docker's SizeRw counts
    them: the sizes of what is not a folder, a hard-linked file once."""
    seen: set[int] = set()
    total = 0
    stack = [doc["GraphDriver"]["Data"]["UpperDir"]]
    while stack:
        try:
            entries = os.scandir(stack.pop())
        except OSError:  # removed meanwhile, or never made
            continue
        with entries:
            for entry in entries:
                st = entry.stat(follow_symlinks=False)
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                elif st.st_ino not in seen:
                    seen.add(st.st_ino)
                    total += st.st_size
    return total


def container_summary(doc: dict[str, Any], engine: Engine | None) -> dict[str, Any]:
    mode = doc["HostConfig"].get("NetworkMode", "bridge")
    return {
        "Id": doc["Id"], "Names": [doc["Name"]], "Image": doc["Config"]["Image"],
        "ImageID": doc["Image"], "Command": command(doc), "Created": int(unix(doc["Created"])),
        "Ports": ports(doc), "Labels": doc["Config"].get("Labels") or {},
        "State": state_name(doc["State"]), "Status": status_text(doc["State"]),
        "HostConfig": {"NetworkMode": mode},
        "NetworkSettings": {"Networks": doc["NetworkSettings"].get("Networks") or {}},
        "Mounts": doc.get("Mounts") or [],
    }


def listed_summary(entry: Listed) -> dict[str, Any]:
    """container_summary of a listed record: what stays the same until the record's next
    write is made once (kept as JSON: each caller gets its own dicts, nothing shared);
    the status, which the clock changes, each time."""
    if entry.derived is None:
        entry.derived = json.dumps(container_summary(entry.doc, None) | {"Status": ""})
    summary = json.loads(entry.derived)
    summary["Status"] = status_text(entry.doc["State"])
    return summary


def ports(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """ContainerSummary.Ports: published bindings, and exposed ports without one."""
    out = []
    published = (doc["NetworkSettings"].get("Ports") or {}) if doc["State"]["Running"] else {}
    for key in sorted(set(published) | set(doc["Config"].get("ExposedPorts") or {})):
        port, _, proto = key.partition("/")
        bindings = published.get(key)
        if not bindings:
            out.append({"PrivatePort": int(port), "Type": proto or "tcp"})
        for b in bindings or []:
            out.append({"IP": b["HostIp"], "PrivatePort": int(port),
                        "PublicPort": int(b["HostPort"]), "Type": proto or "tcp"})
    return out


def matches(doc: dict[str, Any], filters: dict[str, list[str]], engine: Engine) -> bool:
    for key, values in filters.items():
        if key not in FILTERS:
            raise InvalidArgument(f"invalid filter '{key}'")
        if not values:
            continue
        if key == "id" and not any(doc["Id"].startswith(v) for v in values):
            return False
        if key == "name" and not any(fnmatch.fnmatch(doc["Name"].lstrip("/"), f"*{v}*")
                                     for v in values):
            return False
        if key == "status":
            for v in values:
                if v not in STATUSES:
                    raise InvalidArgument(f"invalid filter 'status={v}'")
            if state_name(doc["State"]) not in values:
                return False
        if key == "health":
            from darse.engine.health import matches as health_matches

            if not health_matches(doc["State"], values):
                return False
        if key == "exited" and (doc["State"]["Running"] or
                                str(doc["State"]["ExitCode"]) not in values):
            return False
        if key == "label":
            labels = doc["Config"].get("Labels") or {}
            for v in values:
                k, _, val = v.partition("=")
                if k not in labels or (val and labels[k] != val):
                    return False
        if key == "ancestor":
            ids = set()
            for v in values:
                try:
                    ids.add(engine.images.resolve(v))
                except Exception:  # noqa: BLE001 - an unknown image matches nothing
                    continue
            if doc["Image"] not in ids:
                return False
    return True
