"""UpdateContainerResources: new CPU and memory limits for a pod container, written to
its cgroups when it runs and to its spec for what comes next (the kubelet's in-place pod
resize, CPU manager)."""

from __future__ import annotations

import json
import os
from typing import Any

from darse.cri import containers
from darse.cri.node import Node
from darse.engine import dataroot
from darse.errors import Conflict, DarseError
from darse.runtime import state
from darse.runtime.cgroups import v1, v2


def oci_resources(res: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """The spec's linux.resources with what the CRI message sets (0 or absent: kept)."""
    out = dict(current)
    memory = dict(out.get("memory") or {})
    if int(res.get("memory_limit_in_bytes") or 0):
        memory["limit"] = int(res["memory_limit_in_bytes"])
    if int(res.get("memory_swap_limit_in_bytes") or 0):
        memory["swap"] = int(res["memory_swap_limit_in_bytes"])
    if memory:
        out["memory"] = memory
    cpu = dict(out.get("cpu") or {})
    for field, key in (("cpu_shares", "shares"), ("cpu_quota", "quota"),
                       ("cpu_period", "period")):
        if int(res.get(field) or 0):
            cpu[key] = int(res[field])
    for field, key in (("cpuset_cpus", "cpus"), ("cpuset_mems", "mems")):
        if res.get(field):
            cpu[key] = res[field]
    if cpu:
        out["cpu"] = cpu
    if res.get("hugepage_limits"):
        out["hugepageLimits"] = [{"pageSize": h.get("page_size", ""),
                                  "limit": int(h.get("limit") or 0)}
                                 for h in res["hugepage_limits"]]
    if res.get("unified"):
        out["unified"] = dict(res["unified"])
    return out


def update(node: Node, ref: str, res: dict[str, Any]) -> None:
    doc = containers.refresh(node, node.store.container(ref))
    if doc["state"] not in (containers.CREATED, containers.RUNNING):
        raise Conflict(f"container {doc['id']} is not running or created")
    path = os.path.join(node.container_dir(doc["id"]), "config.json")
    with open(path) as f:
        spec = json.load(f)
    resources = oci_resources(res, spec["linux"].get("resources") or {})
    if doc["state"] == containers.RUNNING:
        st = state.load(os.path.join(node.engine.config.exec_root, "runtime"), doc["id"])
        paths = st.cgroup_paths or {}
        try:
            # Not cgroups.create: on a failure it would remove the running container's
            # cgroups. The device rules are the spec's own, written again unchanged.
            if "" in paths:
                v2.create(paths[""], resources)
            else:
                v1.create(paths, resources)
        except OSError as exc:
            raise DarseError(f"updating the resources of {doc['id']}: {exc}") from None
    spec["linux"]["resources"] = resources
    dataroot.write_private(path, json.dumps(spec).encode())
    linux = doc["config"].setdefault("linux", {})
    linux["resources"] = {**(linux.get("resources") or {}), **res}
    node.store.save_container(doc)
