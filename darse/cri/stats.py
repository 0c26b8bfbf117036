"""ContainerStats from the container's cgroups (v1 or v2), as the kubelet's summary API
reads them: CPU time used, memory in use and its working set (usage less the inactive
file cache), and the writable layer's size."""

from __future__ import annotations

import os
import time
from typing import Any

from darse.cri import containers
from darse.cri.node import Node
from darse.errors import DarseError
from darse.runtime import state


def _read(directory: str | None, name: str) -> str:
    if not directory:
        return ""
    try:
        with open(os.path.join(directory, name)) as f:
            return f.read()
    except OSError:
        return ""


def _stat_field(text: str, key: str) -> int:
    for line in text.splitlines():
        k, _, v = line.partition(" ")
        if k == key and v.strip().isdigit():
            return int(v)
    return 0


def _usage(paths: dict[str, str]) -> tuple[int, int, int]:
    """(cpu nanoseconds, memory usage bytes, working set bytes)."""
    if "" in paths:  # cgroup v2
        d = paths[""]
        cpu = _stat_field(_read(d, "cpu.stat"), "usage_usec") * 1000
        usage = int(_read(d, "memory.current").strip() or 0)
        inactive = _stat_field(_read(d, "memory.stat"), "inactive_file")
    else:
        cpu_dir = paths.get("cpuacct") or paths.get("cpu,cpuacct")
        cpu = int(_read(cpu_dir, "cpuacct.usage").strip() or 0)
        mem = paths.get("memory")
        usage = int(_read(mem, "memory.usage_in_bytes").strip() or 0)
        inactive = _stat_field(_read(mem, "memory.stat"), "total_inactive_file")
    return cpu, usage, max(usage - inactive, 0)


def _disk_usage(path: str) -> tuple[int, int]:
    size = inodes = 0
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            try:
                st = os.lstat(os.path.join(root, name))
            except OSError:
                continue
            size += st.st_blocks * 512
            inodes += 1
    return size, inodes


def of(node: Node, doc: dict[str, Any]) -> dict[str, Any]:
    """ContainerStats of one container (only its attributes when it is not running)."""
    config = doc["config"]
    now = str(time.time_ns())
    out: dict[str, Any] = {"attributes": {
        "id": doc["id"], "metadata": config.get("metadata") or {},
        "labels": config.get("labels") or {}, "annotations": config.get("annotations") or {}}}
    upper = os.path.join(node.container_dir(doc["id"]), "upper")
    size, inodes = _disk_usage(upper)
    out["writable_layer"] = {"timestamp": now, "fs_id": {"mountpoint": upper},
                             "used_bytes": {"value": str(size)},
                             "inodes_used": {"value": str(inodes)}}
    if doc["state"] != containers.RUNNING:
        return out
    try:
        st = state.load(os.path.join(node.engine.config.exec_root, "runtime"), doc["id"])
    except DarseError:
        return out
    cpu, usage, working = _usage(st.cgroup_paths or {})
    out["cpu"] = {"timestamp": now, "usage_core_nano_seconds": {"value": str(cpu)}}
    out["memory"] = {"timestamp": now, "working_set_bytes": {"value": str(working)},
                     "usage_bytes": {"value": str(usage)}}
    return out


def listing(node: Node, flt: dict[str, Any]) -> list[dict[str, Any]]:
    listed = {c["id"]: c for c in node.shim.call("list")["containers"]}
    out = []
    for doc in node.store.containers():
        if flt.get("id") and not doc["id"].startswith(flt["id"]):
            continue
        if flt.get("pod_sandbox_id") and not doc["sandbox_id"].startswith(
                flt["pod_sandbox_id"]):
            continue
        labels = doc["config"].get("labels") or {}
        if any(labels.get(k) != v for k, v in (flt.get("label_selector") or {}).items()):
            continue
        doc = containers.refresh(node, doc, listed)
        if doc["state"] == containers.RUNNING:  # as containerd: running ones only
            out.append(of(node, doc))
    return out
