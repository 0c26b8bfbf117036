"""The prune verbs (container, image, network, volume prune) and their filters.

Docker's prunes share one filter grammar: `until` (a time or a duration before now: what
was created before it goes), `label=KEY[=VALUE]` (only what carries it) and
`label!=KEY[=VALUE]` (only what does not). A key a prune does not know is refused before
anything is removed, with dockerd's words.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from darse.engine import logs, networking
from darse.engine import volumes as mounts
from darse.errors import DarseError, InvalidArgument

if TYPE_CHECKING:
    from darse.engine.engine import Engine


class PruneFilter:
    """Which objects a prune may take, from the request's filters."""

    def __init__(self, filters: dict[str, list[str]] | None, known: tuple[str, ...]) -> None:
        filters = filters or {}
        for key in filters:
            if key not in known:
                raise InvalidArgument(f"Invalid filter '{key}'")
        self.filters = filters
        self.until: float | None = None
        for value in filters.get("until") or []:
            self.until = parse_until(value)

    def get(self, key: str) -> list[str]:
        return list(self.filters.get(key) or [])

    def allows(self, labels: dict[str, str] | None, created: float | str | None) -> bool:
        labels = labels or {}
        if self.until is not None and created is not None:
            if _epoch(created) >= self.until:
                return False
        if any(not _has_label(labels, spec) for spec in self.filters.get("label") or []):
            return False
        return not any(_has_label(labels, spec) for spec in self.filters.get("label!") or [])


def parse_until(value: str) -> float:
    try:
        when = logs.parse_time(value)
    except ValueError:
        when = None
    if when is None:
        raise InvalidArgument(f'failed to parse value as time or duration: "{value}"')
    return when


def _has_label(labels: dict[str, str], spec: str) -> bool:
    key, eq, value = spec.partition("=")
    return key in labels and (not eq or labels[key] == value)


def _epoch(created: float | str) -> float:
    if isinstance(created, (int, float)):
        return float(created)
    try:
        return logs.parse_time(created) or 0.0
    except ValueError:
        return 0.0


def containers(engine: Engine, filters: dict[str, list[str]] | None = None) -> dict[str, Any]:
    from darse.engine.views import rw_size

    keep = PruneFilter(filters, ("until", "label", "label!"))
    deleted, space = [], 0
    for doc in engine.containers.all():
        if doc["State"]["Running"] or doc["State"].get("Restarting") or doc["State"].get(
                "Paused"):
            continue
        if not keep.allows(doc["Config"].get("Labels"), doc.get("Created")):
            continue
        size = rw_size(doc)
        try:
            engine.remove(doc["Id"])
        except DarseError:
            continue  # started or removed meanwhile: not this prune's
        deleted.append(doc["Id"])
        space += size
    engine.events.emit("container", "prune", "", {"reclaimed": str(space)})
    return {"ContainersDeleted": deleted or None, "SpaceReclaimed": space}


def networks(engine: Engine, filters: dict[str, list[str]] | None = None) -> dict[str, Any]:
    keep = PruneFilter(filters, ("until", "label", "label!"))
    deleted = []
    for net in engine.networks.all():
        if net["Name"] in ("bridge", "host", "none") or networking.users(engine, net):
            continue
        if not keep.allows(net.get("Labels"), net.get("Created")):
            continue
        try:
            engine.network_remove(net["Id"])
        except DarseError:
            continue
        deleted.append(net["Name"])
    engine.events.emit("network", "prune", "", {"reclaimed": "0"})
    return {"NetworksDeleted": deleted or None}


def volumes(engine: Engine, filters: dict[str, list[str]] | None = None,
            api_version: tuple[int, int] = (1, 47)) -> dict[str, Any]:
    # `until` is not a volume prune's filter in dockerd; `all` came with API 1.42, and
    # before it a prune took every unused volume, named ones too (dockerd 20.10).
    known = ("label", "label!", "all") if api_version >= (1, 42) else ("label", "label!")
    keep = PruneFilter(filters, known)
    all_volumes = api_version < (1, 42) or any(
        v.lower() in ("true", "1") for v in keep.get("all"))
    users = mounts.users(engine)
    chosen = [v["Name"] for v in engine.volumes.list()
              if keep.allows(v.get("Labels"), None)]
    result = engine.volumes.prune(users, all_volumes, only=set(chosen))
    engine.events.emit("volume", "prune", "", {"reclaimed": str(result["SpaceReclaimed"])})
    return result


def images(engine: Engine, filters: dict[str, list[str]] | None = None) -> dict[str, Any]:
    keep = PruneFilter(filters, ("dangling", "until", "label", "label!"))
    dangling = keep.get("dangling")
    dangling_only = (dangling or ["true"])[0].lower() not in ("false", "0")

    def allowed(image_id: str) -> bool:
        config = engine.images.config(image_id)
        labels = (config.get("config") or {}).get("Labels")
        return keep.allows(labels, config.get("created") or None)

    result = engine.images.prune(dangling_only, allowed)
    engine.events.emit("image", "prune", "", {"reclaimed": str(result["SpaceReclaimed"])})
    return result

