"""What `docker ps` lists: the ContainerSummary of the Engine API, with its filters."""

from __future__ import annotations

import json
import os
import time
from typing import TYPE_CHECKING, Any

from darse.engine.containers import ZERO_TIME, Listed
from darse.engine.listfilters import Filters, state_name
from darse.units import human_duration

if TYPE_CHECKING:
    from darse.engine.engine import Engine


def unix(ts: str) -> float:
    if not ts or ts.startswith("0001"):
        return 0.0
    from darse.engine.logs import _rfc3339

    return _rfc3339(ts)


def _status_parts(state: dict[str, Any]) -> tuple[str, float | None, str]:
    """The STATUS text as (before, since, after): before + the time since `since` + after,
    or `before` alone when since is None. All but the clock's part is fixed until the
    record's next write (a health change or a pause is a write)."""
    if state.get("Restarting"):
        return f"Restarting ({state['ExitCode']}) ", unix(state["FinishedAt"]), " ago"
    if state["Running"]:
        from darse.engine.health import status_suffix

        return "Up ", unix(state["StartedAt"]), \
            " (Paused)" if state["Paused"] else status_suffix(state)
    if state["FinishedAt"] == ZERO_TIME:
        return "Created", None, ""
    return f"Exited ({state['ExitCode']}) ", unix(state["FinishedAt"]), " ago"


def status_text(state: dict[str, Any], now: float | None = None) -> str:
    before, since, after = _status_parts(state)
    if since is None:
        return before
    return before + human_duration((time.time() if now is None else now) - since) + after


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


class _Derived:
    """A listed record's summary as its last write left it: as JSON for the listings
    that change it (links, sizes), and as the two pieces of its encoding around the
    STATUS clock, so that a listing of 1000 is a join of strings, not 1000 parses and
    encodings (24 and 20 ms)."""

    __slots__ = ("json", "head", "since", "tail")

    def __init__(self, doc: dict[str, Any]) -> None:
        summary = container_summary(doc, None)
        before, self.since, after = _status_parts(doc["State"])
        summary["Status"] = ""
        self.json = json.dumps(summary)
        # json.dumps of a dict is "{" + ", ".join('"key": value') + "}" (its default
        # separators, no indent): the pieces encoded alike, with the status left open.
        # Only the clock's words go between them: digits, letters and spaces.
        fields = [f"{json.dumps(k)}: {json.dumps(v)}" for k, v in summary.items()]
        at = list(summary).index("Status")
        self.head = "{" + ", ".join([*fields[:at], '"Status": "']) + json.dumps(before)[1:-1]
        self.tail = json.dumps(after)[1:-1] + '"' + "".join(f", {f}" for f in fields[at + 1:]) \
            + "}"

    def encoded(self, now: float) -> str:
        if self.since is None:
            return self.head + self.tail
        return self.head + human_duration(now - self.since) + self.tail


def _derived(entry: Listed) -> _Derived:
    if entry.derived is None:
        entry.derived = _Derived(entry.doc)
    return entry.derived


def listed_summary(entry: Listed, now: float | None = None) -> dict[str, Any]:
    """container_summary of a listed record: what stays the same until the record's next
    write is made once (kept as JSON: each caller gets its own dicts, nothing shared);
    the status, which the clock changes, each time."""
    summary = json.loads(_derived(entry).json)
    summary["Status"] = status_text(entry.doc["State"], now)
    return summary


def listing(engine: Engine, all: bool, filters: dict[str, list[str]] | None,
              limit: int) -> tuple[list[Listed], list[Listed]]:
    """(every record, newest first; those the listing shows)."""
    keep = Filters(filters, engine)
    listed = sorted(engine.containers.listed(), key=lambda e: e.doc["Created"], reverse=True)
    out = []
    for entry in keep.window(listed):
        doc = entry.doc  # shared: read only
        if not all and not doc["State"]["Running"] and limit <= 0:
            continue
        if keep.active and not keep.keeps(doc):
            continue
        out.append(entry)
    return listed, out[:limit] if limit > 0 else out


def summaries(engine: Engine, all: bool = False, filters: dict[str, list[str]] | None = None,
              limit: int = -1, size: bool = False, now: float | None = None
              ) -> list[dict[str, Any]]:
    """GET /containers/json's answer: what `docker ps` lists (its statuses as at `now`,
    the clock's by default)."""
    from darse.engine.links import link_names

    listed, shown = listing(engine, all, filters, limit)
    now = time.time() if now is None else now
    out = [(entry.doc, listed_summary(entry, now)) for entry in shown]
    linked = link_names(e.doc for e in listed)
    for doc, summary in out:
        if doc["Name"] in linked:  # sorted, as dockerd's name index gives them
            summary["Names"] = sorted(summary["Names"] + linked[doc["Name"]])
    if size:  # a walk of each upper folder: only for what is shown
        for doc, summary in out:
            summary["SizeRw"] = rw_size(doc)
            summary["SizeRootFs"] = summary["SizeRw"] + engine.images.size(doc["Image"])
    return [summary for _, summary in out]


def summaries_json(engine: Engine, all: bool = False,
                   filters: dict[str, list[str]] | None = None, limit: int = -1,
                   size: bool = False, now: float | None = None) -> bytes:
    """summaries() as json.dumps encodes them, byte for byte, from each record's
    encoding kept since its last write; a linked container (its Names grow) and sizes
    (a walk) go the long way."""
    if size:
        return json.dumps(summaries(engine, all, filters, limit, size, now)).encode()
    from darse.engine.links import link_names

    listed, shown = listing(engine, all, filters, limit)
    linked = link_names(e.doc for e in listed)
    now = time.time() if now is None else now
    parts = []
    for entry in shown:
        if entry.doc["Name"] in linked:
            summary = listed_summary(entry, now)
            summary["Names"] = sorted(summary["Names"] + linked[entry.doc["Name"]])
            parts.append(json.dumps(summary))
        else:
            parts.append(_derived(entry).encoded(now))
    return ("[" + ", ".join(parts) + "]").encode()


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
