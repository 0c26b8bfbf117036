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


def read_file(directory: str | None, name: str) -> str:
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
        cpu = _stat_field(read_file(d, "cpu.stat"), "usage_usec") * 1000
        usage = int(read_file(d, "memory.current").strip() or 0)
        inactive = _stat_field(read_file(d, "memory.stat"), "inactive_file")
    else:
        cpu_dir = paths.get("cpuacct") or paths.get("cpu,cpuacct")
        cpu = int(read_file(cpu_dir, "cpuacct.usage").strip() or 0)
        mem = paths.get("memory")
        usage = int(read_file(mem, "memory.usage_in_bytes").strip() or 0)
        inactive = _stat_field(read_file(mem, "memory.stat"), "total_inactive_file")
    return cpu, usage, max(usage - inactive, 0)


def disk_usage(path: str) -> tuple[int, int]:
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
    size, inodes = disk_usage(upper)
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


def net_dev_text(netns: str) -> str:
    """/proc/net/dev of a network namespace ('' if it cannot be read), read by a thread
    inside it (/proc/thread-self/net follows the thread's namespace)."""
    from darse import syscalls
    from darse.network import netns as threads

    def read() -> str:
        if netns != "host":
            fd = os.open(netns, os.O_RDONLY | os.O_CLOEXEC)
            try:
                syscalls.setns(fd, syscalls.CLONE_NEWNET)
            finally:
                os.close(fd)
        with open("/proc/thread-self/net/dev") as f:
            return f.read()

    try:
        return threads.in_thread(read)
    except OSError:
        return ""


def _net_dev(netns: str) -> dict[str, tuple[int, int, int, int]]:
    """{interface: (rx bytes, rx errors, tx bytes, tx errors)} of a network namespace."""
    out = {}
    for line in net_dev_text(netns).splitlines()[2:]:
        name, _, rest = line.partition(":")
        fields = rest.split()
        if len(fields) >= 11:
            out[name.strip()] = (int(fields[0]), int(fields[2]), int(fields[8]), int(fields[10]))
    return out


def pod(node: Node, sandbox: dict[str, Any]) -> dict[str, Any]:
    """PodSandboxStats: its running containers' figures, summed, and its network's."""
    config = sandbox["config"]
    now = str(time.time_ns())
    listed = {c["id"]: c for c in node.shim.call("list")["containers"]}
    ours = [containers.refresh(node, d, listed) for d in node.store.containers(sandbox["id"])]
    per = [of(node, d) for d in ours if d["state"] == containers.RUNNING]
    cpu = sum(int(s["cpu"]["usage_core_nano_seconds"]["value"]) for s in per if "cpu" in s)
    usage = sum(int(s["memory"]["usage_bytes"]["value"]) for s in per if "memory" in s)
    working = sum(int(s["memory"]["working_set_bytes"]["value"]) for s in per
                  if "memory" in s)
    linux: dict[str, Any] = {
        "cpu": {"timestamp": now, "usage_core_nano_seconds": {"value": str(cpu)}},
        "memory": {"timestamp": now, "usage_bytes": {"value": str(usage)},
                   "working_set_bytes": {"value": str(working)}},
        "process": {"timestamp": now, "process_count": {"value": str(sum(
            len(_pids(node, d["id"])) for d in ours if d["state"] == containers.RUNNING))}},
        "containers": per}
    netns = (sandbox.get("namespaces") or {}).get("net")
    if sandbox["state"] == "SANDBOX_READY" and netns:
        interfaces = [{"name": name, "rx_bytes": {"value": str(v[0])},
                       "rx_errors": {"value": str(v[1])}, "tx_bytes": {"value": str(v[2])},
                       "tx_errors": {"value": str(v[3])}}
                      for name, v in sorted(_net_dev(netns).items()) if name != "lo"]
        linux["network"] = {"timestamp": now, "interfaces": interfaces}
        default = next((i for i in interfaces if i["name"] == "eth0"), None)
        if default is not None:
            linux["network"]["default_interface"] = default
    return {"attributes": {"id": sandbox["id"], "metadata": config.get("metadata") or {},
                           "labels": config.get("labels") or {},
                           "annotations": config.get("annotations") or {}},
            "linux": linux}


def _pids(node: Node, container_id: str) -> list[int]:
    from darse.runtime import cgroups

    try:
        st = state.load(os.path.join(node.engine.config.exec_root, "runtime"), container_id)
        return cgroups.pids(st.cgroup_paths or {})
    except (DarseError, OSError):
        return []


def pod_listing(node: Node, flt: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for doc in node.store.sandboxes():
        if doc["state"] != "SANDBOX_READY":
            continue
        if flt.get("id") and not doc["id"].startswith(flt["id"]):
            continue
        labels = doc["config"].get("labels") or {}
        if any(labels.get(k) != v for k, v in (flt.get("label_selector") or {}).items()):
            continue
        out.append(pod(node, doc))
    return out
