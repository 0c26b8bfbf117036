"""docker update: new resource limits and restart policy for a container, applied to its
cgroups at once when it runs (POST /containers/{id}/update).

As dockerd: a zero or absent field leaves the limit as it is (but PidsLimit, whose 0 or
-1 means none); every check is made before anything changes, and a limit the kernel
refuses leaves the record as it was.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from darse.errors import Conflict, DarseError, InvalidArgument
from darse.runtime import cgroups
from darse.runtime.state import load as load_state

if TYPE_CHECKING:
    from darse.engine.engine import Engine

LIMITS = ("BlkioWeight", "CpuShares", "Memory", "MemorySwap", "MemoryReservation",
          "KernelMemory", "NanoCpus", "CpuPeriod", "CpuQuota", "CpusetCpus", "CpusetMems",
          "CpuRealtimePeriod", "CpuRealtimeRuntime")
MIN_MEMORY = 6 * 1024 * 1024
POLICIES = ("", "no", "always", "unless-stopped", "on-failure")


def swap_limit_supported() -> bool:
    """Whether the kernel accounts swap per cgroup (dockerd's sysinfo.SwapLimit)."""
    mounts = cgroups.hierarchies()
    if "" in mounts:
        return True
    return os.path.exists(os.path.join(mounts.get("memory", "/nonexistent"),
                                       "memory.memsw.limit_in_bytes"))


def memory_defaults(host_config: dict[str, Any]) -> None:
    """At create, as dockerd: a memory limit without a swap limit allows as much swap
    (MemorySwap twice Memory), where the kernel can limit swap."""
    if (host_config.get("Memory") or 0) > 0 and not host_config.get("MemorySwap") and \
            swap_limit_supported():
        host_config["MemorySwap"] = host_config["Memory"] * 2


def _changes(body: dict[str, Any]) -> dict[str, Any]:
    new = {k: body[k] for k in LIMITS if body.get(k) not in (None, 0, "")}
    if body.get("PidsLimit") is not None:
        new["PidsLimit"] = body["PidsLimit"] if body["PidsLimit"] > 0 else 0
    return new


def _check(doc: dict[str, Any], new: dict[str, Any], policy: dict[str, Any] | None) -> None:
    hc, cid = doc["HostConfig"], doc["Id"]
    if new.get("Memory") is not None and new["Memory"] < MIN_MEMORY:
        raise InvalidArgument("Minimum memory limit allowed is 6MB")
    if new.get("NanoCpus"):
        for key, word in (("CpuQuota", "Quota"), ("CpuPeriod", "Period")):
            if new.get(key):
                raise InvalidArgument(f"Conflicting options: Nano CPUs and CPU {word} cannot "
                                      "both be set")
            if hc.get(key):
                raise InvalidArgument(f"Conflicting options: Nano CPUs cannot be updated as "
                                      f"CPU {word} has already been set")
    elif hc.get("NanoCpus") and (new.get("CpuQuota") or new.get("CpuPeriod")):
        raise InvalidArgument("Conflicting options: CPU Quota cannot be updated as NanoCPUs "
                              "has already been set")
    if new.get("Memory") and "MemorySwap" not in new and \
            new["Memory"] > (hc.get("MemorySwap") or 0):
        # dockerd 20.10's rule, unlimited swap included
        raise Conflict(f"Cannot update container {cid}: Memory limit should be smaller than "
                       "already set memoryswap limit, update the memoryswap at the same time")
    swap = new.get("MemorySwap")
    if swap is not None and swap > 0 and swap < new.get("Memory", hc.get("Memory") or 0):
        raise InvalidArgument("Minimum memoryswap limit should be larger than memory limit, "
                              "see usage")
    if policy is not None:
        if policy.get("Name", "") not in POLICIES:
            raise InvalidArgument(f"invalid restart policy '{policy.get('Name')}'")
        if hc.get("AutoRemove"):
            raise Conflict(f"Cannot update container {cid}: Restart policy cannot be updated "
                           "because AutoRemove is enabled for the container")


def resources_of(new: dict[str, Any]) -> dict[str, Any]:
    """The OCI linux.resources for the changed limits only."""
    res: dict[str, Any] = {}
    mem = {key: new[field] for field, key in (("Memory", "limit"), ("MemorySwap", "swap"),
                                              ("MemoryReservation", "reservation"))
           if field in new}
    if mem:
        res["memory"] = mem
    cpu = {key: new[field] for field, key in (
        ("CpuShares", "shares"), ("CpuQuota", "quota"), ("CpuPeriod", "period"),
        ("CpusetCpus", "cpus"), ("CpusetMems", "mems"), ("CpuRealtimePeriod", "realtimePeriod"),
        ("CpuRealtimeRuntime", "realtimeRuntime")) if field in new}
    if new.get("NanoCpus"):
        cpu["period"], cpu["quota"] = 100000, new["NanoCpus"] * 100000 // 10**9
    if cpu:
        res["cpu"] = cpu
    if "PidsLimit" in new:
        res["pids"] = {"limit": new["PidsLimit"]}
    if new.get("BlkioWeight"):
        res["blockIO"] = {"weight": new["BlkioWeight"]}
    return res


def update(engine: Engine, ref: str, body: dict[str, Any]) -> dict[str, Any]:
    new = _changes(body)
    policy = body.get("RestartPolicy")
    if policy is not None and not policy.get("Name") and not policy.get("MaximumRetryCount"):
        policy = None  # the docker CLI sends an empty one when --restart is not given
    cid = engine.containers.find(ref)["Id"]
    with engine._clocks.hold(cid):
        doc = engine.containers.find(cid)
        _check(doc, new, policy)
        if doc["State"]["Running"] and new:
            st = load_state(os.path.join(engine.config.exec_root, "runtime"), cid)
            try:
                cgroups.update(st.cgroup_paths, resources_of(new))
            except (OSError, DarseError) as exc:
                raise DarseError(f"Cannot update container {cid}: {exc}") from None
        doc["HostConfig"].update(new)
        if policy is not None:
            doc["HostConfig"]["RestartPolicy"] = {
                "Name": policy.get("Name") or "no",
                "MaximumRetryCount": int(policy.get("MaximumRetryCount") or 0)}
        engine.containers.save(doc)
    engine._event(doc, "update")
    return {"Warnings": None}
