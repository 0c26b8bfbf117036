"""`docker ps --filter`: what each filter keeps, checked (and the containers and images
they name looked up) before any container is looked at, so that a bad filter is refused
in dockerd's words however many containers there are, none included."""

from __future__ import annotations

import fnmatch
from typing import TYPE_CHECKING, Any

from darse.engine.containers import ZERO_TIME
from darse.errors import InvalidArgument, NotFound

if TYPE_CHECKING:
    from darse.engine.containers import Listed
    from darse.engine.engine import Engine

FILTERS = ("id", "name", "label", "status", "exited", "ancestor", "before", "since",
           "network", "health", "is-task", "volume", "publish", "expose")
STATUSES = ("created", "restarting", "running", "removing", "paused", "exited", "dead")


def state_name(state: dict[str, Any]) -> str:
    if state.get("Restarting"):
        return "restarting"
    if state["Running"]:
        return "paused" if state["Paused"] else "running"
    return "exited" if state["FinishedAt"] != ZERO_TIME else "created"


class Filters:
    """The filters of one listing, checked; `keeps(doc)` for each container, `window`
    for before= and since=, which are places in the listing's order."""

    def __init__(self, filters: dict[str, list[str]] | None, engine: Engine) -> None:
        self.filters = dict(filters or {})
        self.active = any(self.filters.values())
        for key, values in self.filters.items():
            if key not in FILTERS:
                raise InvalidArgument(f"Invalid filter '{key}'")
            for v in values:
                self._check(key, v)
        self.images: set[str] | None = None
        if self.filters.get("ancestor"):
            self.images = set()
            for v in self.filters["ancestor"]:
                try:
                    self.images.add(engine.images.resolve(v))
                except Exception:  # noqa: BLE001 - an unknown image matches nothing
                    continue
        # before=/since=: the containers named, as dockerd looks them up (any of its ways)
        self.before = [self._container(engine, v) for v in self.filters.get("before", [])]
        self.since = [self._container(engine, v) for v in self.filters.get("since", [])]

    @staticmethod
    def _check(key: str, v: str) -> None:
        if key == "status" and v not in STATUSES:
            raise InvalidArgument(f"Invalid filter 'status={v}'")
        if key == "exited":
            try:
                int(v)
            except ValueError:
                raise InvalidArgument(f'strconv.Atoi: parsing "{v}": invalid syntax') from None
        if key == "is-task" and v not in ("true", "false"):
            raise InvalidArgument(f"Invalid filter 'is-task=[{v}]'")
        if key == "health":
            from darse.engine.health import matches

            matches({}, [v])  # dockerd's words for a value it does not know

    @staticmethod
    def _container(engine: Engine, ref: str) -> str:
        try:
            return engine.containers.find(ref)["Id"]
        except NotFound:
            raise NotFound(f"no such container {ref}") from None

    def window(self, listed: list[Listed]) -> list[Listed]:
        """The part of the listing (newest first) after each before= container and ahead
        of each since= one."""
        for cid in self.before:
            at = next((i for i, e in enumerate(listed) if e.doc["Id"] == cid), None)
            listed = listed[at + 1:] if at is not None else listed
        for cid in self.since:
            at = next((i for i, e in enumerate(listed) if e.doc["Id"] == cid), None)
            listed = listed[:at] if at is not None else listed
        return listed

    def keeps(self, doc: dict[str, Any]) -> bool:
        f = self.filters
        if f.get("id") and not any(doc["Id"].startswith(v) for v in f["id"]):
            return False
        if f.get("name") and not any(fnmatch.fnmatch(doc["Name"].lstrip("/"), f"*{v}*")
                                     for v in f["name"]):
            return False
        if f.get("status") and state_name(doc["State"]) not in f["status"]:
            return False
        if f.get("health"):
            from darse.engine.health import matches

            if not matches(doc["State"], f["health"]):
                return False
        if f.get("exited") and (doc["State"]["Running"] or  # a run that ended, only
                                doc["State"]["StartedAt"] == ZERO_TIME or
                                doc["State"]["ExitCode"] not in {int(v) for v in f["exited"]}):
            return False
        if f.get("is-task") and "false" not in f["is-task"]:
            return False  # no container of darse's is a swarm task
        if f.get("label"):
            labels = doc["Config"].get("Labels") or {}
            for v in f["label"]:
                k, _, val = v.partition("=")
                if k not in labels or (val and labels[k] != val):
                    return False
        if self.images is not None and doc["Image"] not in self.images:
            return False
        if f.get("network") and not any(_on_network(doc, v) for v in f["network"]):
            return False
        return not (f.get("volume") and not any(_uses_volume(doc, v) for v in f["volume"]))


def _on_network(doc: dict[str, Any], ref: str) -> bool:
    """By the network's name, or a prefix of its id."""
    networks = doc["NetworkSettings"].get("Networks") or {}
    return ref in networks or any((ep or {}).get("NetworkID", "").startswith(ref)
                                  for ep in networks.values())


def _uses_volume(doc: dict[str, Any], ref: str) -> bool:
    """By the volume's name, or a mount's source or destination."""
    return any(ref in (m.get("Name"), m.get("Source"), m.get("Destination"))
               for m in doc.get("Mounts") or [])
