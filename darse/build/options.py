"""POST /build's query: the build options dockerd reads, checked before any work."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from darse.errors import InvalidArgument


@dataclass
class Options:
    tags: list[str] = field(default_factory=list)
    dockerfile: str = "Dockerfile"
    build_args: dict[str, str] = field(default_factory=dict)
    target: str = ""
    no_cache: bool = False
    pull: bool = False
    cache_from: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    network_mode: str = ""
    extra_hosts: list[str] = field(default_factory=list)
    shm_size: int = 0
    rm: bool = True
    force_rm: bool = False
    quiet: bool = False
    platform: str = ""
    remote: str = ""
    # HostConfig limits of every RUN's container (build --memory, --cpu-shares, ...)
    resources: dict[str, Any] = field(default_factory=dict)


# query parameter -> HostConfig key, integers
_RESOURCES = {"cpushares": "CpuShares", "cpuperiod": "CpuPeriod", "cpuquota": "CpuQuota",
              "memory": "Memory", "memswap": "MemorySwap"}


def _resources(query: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, key in _RESOURCES.items():
        value = query.get(name)
        if value:
            try:
                out[key] = int(value)
            except ValueError:
                raise InvalidArgument(f"invalid {name}: {value}") from None
    for name, key in (("cpusetcpus", "CpusetCpus"), ("cpusetmems", "CpusetMems"),
                      ("cgroupparent", "CgroupParent")):
        if query.get(name):
            out[key] = query[name]
    ulimits = _json(query, "ulimits", list)
    if ulimits:
        out["Ulimits"] = ulimits
    isolation = query.get("isolation") or ""
    if isolation not in ("", "default"):
        raise InvalidArgument(f'Invalid isolation: "{isolation}" - Linux only supports '
                              "'default'")
    return out


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.lower() not in ("0", "false", "no")


def _json(query: Mapping[str, str], name: str, kind: type) -> Any:
    text = query.get(name)
    if not text:
        return kind()
    try:
        value = json.loads(text)
    except ValueError:
        raise InvalidArgument(f"invalid {name}: not JSON") from None
    if value is None:  # the docker CLI sends null for an empty list
        return kind()
    if not isinstance(value, kind):
        raise InvalidArgument(f"invalid {name}: not a JSON {kind.__name__}")
    return value


def from_query(query: Any, experimental: bool = False) -> Options:
    """Options from the request's query (a MultiDict: `t` may repeat)."""
    if _bool(query.get("squash")) and not experimental:
        raise InvalidArgument("squash is only supported with experimental mode")
    build_args = {k: v for k, v in _json(query, "buildargs", dict).items() if v is not None}
    labels = _json(query, "labels", dict)
    hosts: list[str] = []
    for value in query.getall("extrahosts", []):
        hosts += [h for h in value.split(",") if h]
    try:
        shm = int(query.get("shmsize") or 0)
    except ValueError:
        raise InvalidArgument("invalid shmsize: not a number") from None
    if shm < 0:
        raise InvalidArgument("invalid shmsize: negative")
    platform = query.get("platform") or ""
    if platform and platform.split("/")[0] not in ("linux",):
        raise InvalidArgument(f"\"{platform}\": unknown operating system or architecture: "
                              "invalid argument")
    mode = query.get("networkmode") or ""
    return Options(
        tags=query.getall("t", []), dockerfile=query.get("dockerfile") or "Dockerfile",
        build_args={k: str(v) for k, v in build_args.items()},
        target=query.get("target") or "", no_cache=_bool(query.get("nocache")),
        pull=_bool(query.get("pull")), cache_from=[str(c) for c in
                                                     _json(query, "cachefrom", list)],
        labels={str(k): str(v) for k, v in labels.items()},
        network_mode="" if mode == "default" else mode, extra_hosts=hosts, shm_size=shm,
        rm=_bool(query.get("rm"), True), force_rm=_bool(query.get("forcerm")),
        quiet=_bool(query.get("q")), platform=platform, remote=query.get("remote") or "",
        resources=_resources(query))
