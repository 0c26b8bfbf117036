"""The CRI metrics (ListMetricDescriptors, ListPodSandboxMetrics; KEP-2371): cAdvisor's
container_* metrics, read by the runtime instead of by cAdvisor, from each running
container's cgroups (v1 or v2) and processes, its writable layer, and the pod's network
namespace. Values are integers (the CRI's UInt64Value): seconds are whole seconds.

Every metric carries the container's labels (container, id, image, name, namespace, pod)
and some one more key (interface, device, failure_type and scope)."""

from __future__ import annotations

import os
import time
from typing import Any

from darse.cri import containers, stats
from darse.cri.node import Node
from darse.errors import DarseError
from darse.runtime import cgroups, state

BASE = ["container", "id", "image", "name", "namespace", "pod"]
COUNTER, GAUGE = "COUNTER", "GAUGE"

# name: (help, extra label keys, kind)
DESCRIPTORS: dict[str, tuple[str, list[str], str]] = {
    "container_blkio_device_usage_total": (
        "Bytes read and written by the container per device (not measured by darse)",
        ["device", "major", "minor", "operation"], COUNTER),
    "container_cpu_cfs_periods_total": ("Enforcement periods elapsed", [], COUNTER),
    "container_cpu_cfs_throttled_periods_total": ("Periods throttled", [], COUNTER),
    "container_cpu_cfs_throttled_seconds_total": ("Time throttled, seconds", [], COUNTER),
    "container_cpu_system_seconds_total": ("CPU time in the kernel, seconds", [], COUNTER),
    "container_cpu_usage_seconds_total": ("CPU time used, seconds", [], COUNTER),
    "container_cpu_user_seconds_total": ("CPU time in user space, seconds", [], COUNTER),
    "container_file_descriptors": ("Open file descriptors of its processes", [], GAUGE),
    "container_fs_inodes_free": ("Free inodes of the writable layer's filesystem",
                                 ["device"], GAUGE),
    "container_fs_inodes_total": ("Inodes of the writable layer's filesystem",
                                  ["device"], GAUGE),
    "container_fs_limit_bytes": ("Size of the writable layer's filesystem", ["device"],
                                 GAUGE),
    "container_fs_reads_bytes_total": ("Bytes read (not measured by darse)", ["device"],
                                       COUNTER),
    "container_fs_reads_total": ("Reads completed (not measured by darse)", ["device"],
                                 COUNTER),
    "container_fs_usage_bytes": ("Bytes used by the writable layer", ["device"], GAUGE),
    "container_fs_writes_bytes_total": ("Bytes written (not measured by darse)", ["device"],
                                        COUNTER),
    "container_fs_writes_total": ("Writes completed (not measured by darse)", ["device"],
                                  COUNTER),
    "container_hugetlb_max_usage_bytes": ("Peak hugepage usage (not measured by darse)",
                                          ["pagesize"], GAUGE),
    "container_hugetlb_usage_bytes": ("Hugepage usage (not measured by darse)",
                                      ["pagesize"], GAUGE),
    "container_last_seen": ("When the metrics were read, seconds since the epoch", [],
                            GAUGE),
    "container_memory_cache": ("Page cache, bytes", [], GAUGE),
    "container_memory_failcnt": ("Times the memory limit was hit", [], COUNTER),
    "container_memory_failures_total": ("Page faults", ["failure_type", "scope"], COUNTER),
    "container_memory_kernel_usage": ("Kernel memory, bytes", [], GAUGE),
    "container_memory_mapped_file": ("Mapped files, bytes", [], GAUGE),
    "container_memory_max_usage_bytes": ("Peak memory usage, bytes", [], GAUGE),
    "container_memory_rss": ("Anonymous and swap cache memory, bytes", [], GAUGE),
    "container_memory_swap": ("Swap in use, bytes", [], GAUGE),
    "container_memory_usage_bytes": ("Memory usage, bytes", [], GAUGE),
    "container_memory_working_set_bytes": ("Memory usage less the inactive file cache, "
                                           "bytes", [], GAUGE),
    "container_network_receive_bytes_total": ("Bytes received", ["interface"], COUNTER),
    "container_network_receive_errors_total": ("Receive errors", ["interface"], COUNTER),
    "container_network_receive_packets_dropped_total": ("Packets dropped on receive",
                                                        ["interface"], COUNTER),
    "container_network_receive_packets_total": ("Packets received", ["interface"], COUNTER),
    "container_network_transmit_bytes_total": ("Bytes sent", ["interface"], COUNTER),
    "container_network_transmit_errors_total": ("Transmit errors", ["interface"], COUNTER),
    "container_network_transmit_packets_dropped_total": ("Packets dropped on transmit",
                                                         ["interface"], COUNTER),
    "container_network_transmit_packets_total": ("Packets sent", ["interface"], COUNTER),
    "container_oom_events_total": ("Times the OOM killer struck", [], COUNTER),
    "container_processes": ("Processes", [], GAUGE),
    "container_sockets": ("Open sockets of its processes", [], GAUGE),
    "container_spec_cpu_period": ("CPU period asked, microseconds", [], GAUGE),
    "container_spec_cpu_quota": ("CPU quota asked, microseconds", [], GAUGE),
    "container_spec_cpu_shares": ("CPU shares asked", [], GAUGE),
    "container_spec_memory_limit_bytes": ("Memory limit asked, bytes", [], GAUGE),
    "container_spec_memory_swap_limit_bytes": ("Memory and swap limit asked, bytes", [],
                                               GAUGE),
    "container_start_time_seconds": ("When it started, seconds since the epoch", [],
                                     GAUGE),
    "container_threads": ("Threads", [], GAUGE),
    "container_threads_max": ("Most threads allowed (0: no limit)", [], GAUGE),
}
# /proc/net/dev's columns after the interface name.
_NET = {"receive_bytes": 0, "receive_packets": 1, "receive_errors": 2,
        "receive_packets_dropped": 3, "transmit_bytes": 8, "transmit_packets": 9,
        "transmit_errors": 10, "transmit_packets_dropped": 11}


def descriptors() -> list[dict[str, Any]]:
    return [{"name": name, "help": help_, "label_keys": BASE + extra}
            for name, (help_, extra, _) in DESCRIPTORS.items()]


def _metric(name: str, labels: list[str], value: int, *extra: str) -> dict[str, Any]:
    return {"name": name, "metric_type": DESCRIPTORS[name][2],
            "label_values": [*labels, *extra], "value": {"value": str(max(int(value), 0))}}


def _int(text: str) -> int:
    text = text.strip()
    return int(text) if text.isdigit() else 0


def _fields(text: str) -> dict[str, int]:
    out = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if value.strip().isdigit():
            out[key] = int(value)
    return out


def _cgroup_figures(paths: dict[str, str]) -> dict[str, int]:
    """cAdvisor's figures by metric name (without container_), from v2 or v1 files."""
    read = stats.read_file
    if "" in paths:
        d = paths[""]
        cpu, mem = _fields(read(d, "cpu.stat")), _fields(read(d, "memory.stat"))
        events = _fields(read(d, "memory.events"))
        usage = _int(read(d, "memory.current"))
        threads_max = _int(read(d, "pids.max"))
        return {
            "cpu_usage_seconds_total": cpu.get("usage_usec", 0) // 10**6,
            "cpu_user_seconds_total": cpu.get("user_usec", 0) // 10**6,
            "cpu_system_seconds_total": cpu.get("system_usec", 0) // 10**6,
            "cpu_cfs_periods_total": cpu.get("nr_periods", 0),
            "cpu_cfs_throttled_periods_total": cpu.get("nr_throttled", 0),
            "cpu_cfs_throttled_seconds_total": cpu.get("throttled_usec", 0) // 10**6,
            "memory_usage_bytes": usage,
            "memory_max_usage_bytes": _int(read(d, "memory.peak")) or usage,
            "memory_cache": mem.get("file", 0), "memory_rss": mem.get("anon", 0),
            "memory_mapped_file": mem.get("file_mapped", 0),
            "memory_kernel_usage": mem.get("kernel", mem.get("kernel_stack", 0)),
            "memory_swap": _int(read(d, "memory.swap.current")),
            "memory_working_set_bytes": max(usage - mem.get("inactive_file", 0), 0),
            "memory_failcnt": events.get("max", 0),
            "oom_events_total": events.get("oom_kill", 0),
            "pgfault": mem.get("pgfault", 0), "pgmajfault": mem.get("pgmajfault", 0),
            "threads_max": threads_max,
        }
    cpu_dir = paths.get("cpu") or paths.get("cpu,cpuacct")
    acct = paths.get("cpuacct") or paths.get("cpu,cpuacct")
    m = paths.get("memory")
    cpu, mem = _fields(read(cpu_dir, "cpu.stat")), _fields(read(m, "memory.stat"))
    ticks = _fields(read(acct, "cpuacct.stat"))
    hz = os.sysconf("SC_CLK_TCK")
    usage = _int(read(m, "memory.usage_in_bytes"))
    return {
        "cpu_usage_seconds_total": _int(read(acct, "cpuacct.usage")) // 10**9,
        "cpu_user_seconds_total": ticks.get("user", 0) // hz,
        "cpu_system_seconds_total": ticks.get("system", 0) // hz,
        "cpu_cfs_periods_total": cpu.get("nr_periods", 0),
        "cpu_cfs_throttled_periods_total": cpu.get("nr_throttled", 0),
        "cpu_cfs_throttled_seconds_total": cpu.get("throttled_time", 0) // 10**9,
        "memory_usage_bytes": usage,
        "memory_max_usage_bytes": _int(read(m, "memory.max_usage_in_bytes")),
        "memory_cache": mem.get("total_cache", 0), "memory_rss": mem.get("total_rss", 0),
        "memory_mapped_file": mem.get("total_mapped_file", 0),
        "memory_kernel_usage": _int(read(m, "memory.kmem.usage_in_bytes")),
        "memory_swap": mem.get("total_swap", 0),
        "memory_working_set_bytes": max(usage - mem.get("total_inactive_file", 0), 0),
        "memory_failcnt": _int(read(m, "memory.failcnt")),
        "oom_events_total": _fields(read(m, "memory.oom_control")).get("oom_kill", 0),
        "pgfault": mem.get("total_pgfault", 0), "pgmajfault": mem.get("total_pgmajfault", 0),
        "threads_max": _int(read(paths.get("pids"), "pids.max")),
    }


def _processes(pids: list[int]) -> dict[str, int]:
    threads = fds = sockets = 0
    for pid in pids:
        try:
            threads += len(os.listdir(f"/proc/{pid}/task"))
            names = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue  # gone meanwhile
        fds += len(names)
        for name in names:
            try:
                sockets += os.readlink(f"/proc/{pid}/fd/{name}").startswith("socket:")
            except OSError:
                continue
    return {"processes": len(pids), "threads": threads, "file_descriptors": fds,
            "sockets": sockets}


def _container(node: Node, sandbox: dict[str, Any], doc: dict[str, Any]) -> list[dict]:
    config = doc["config"]
    meta, pod_meta = config.get("metadata") or {}, sandbox["config"].get("metadata") or {}
    labels = [meta.get("name", ""), doc["id"], (config.get("image") or {}).get("image", ""),
              doc["name"], pod_meta.get("namespace", ""), pod_meta.get("name", "")]
    try:
        st = state.load(os.path.join(node.engine.config.exec_root, "runtime"), doc["id"])
    except DarseError:
        return []
    paths = st.cgroup_paths or {}
    figures = _cgroup_figures(paths)
    try:
        figures.update(_processes(cgroups.pids(paths)))
    except OSError:
        pass
    res = (config.get("linux") or {}).get("resources") or {}
    figures.update(
        spec_cpu_period=int(res.get("cpu_period") or 0),
        spec_cpu_quota=max(int(res.get("cpu_quota") or 0), 0),
        spec_cpu_shares=int(res.get("cpu_shares") or 0),
        spec_memory_limit_bytes=int(res.get("memory_limit_in_bytes") or 0),
        spec_memory_swap_limit_bytes=int(res.get("memory_swap_limit_in_bytes") or 0),
        start_time_seconds=int(doc.get("started_at") or 0) // 10**9,
        last_seen=int(time.time()))
    out = [_metric("container_memory_failures_total", labels, figures.pop(kind), kind, scope)
           for kind in ("pgfault", "pgmajfault") for scope in ("container",)]
    out += [_metric("container_" + name, labels, value) for name, value in figures.items()
            if "container_" + name in DESCRIPTORS]
    upper = os.path.join(node.container_dir(doc["id"]), "upper")
    used, _ = stats.disk_usage(upper)
    try:
        fs = os.statvfs(upper)
    except OSError:
        return out
    device = upper
    out += [_metric("container_fs_usage_bytes", labels, used, device),
            _metric("container_fs_limit_bytes", labels, fs.f_blocks * fs.f_frsize, device),
            _metric("container_fs_inodes_total", labels, fs.f_files, device),
            _metric("container_fs_inodes_free", labels, fs.f_ffree, device)]
    return out


def _network(sandbox: dict[str, Any]) -> list[dict[str, Any]]:
    """The pod's interfaces (lo left out), as the pod's own metrics."""
    netns = (sandbox.get("namespaces") or {}).get("net")
    if sandbox["state"] != "SANDBOX_READY" or not netns or netns == "host":
        return []
    meta = sandbox["config"].get("metadata") or {}
    labels = ["POD", sandbox["id"], "", sandbox["name"], meta.get("namespace", ""),
              meta.get("name", "")]
    out = []
    for interface, columns in sorted(_net_dev(netns).items()):
        for name, column in _NET.items():
            out.append(_metric(f"container_network_{name}_total", labels, columns[column],
                               interface))
    return out


def _net_dev(netns: str) -> dict[str, list[int]]:
    text = stats.net_dev_text(netns)
    out = {}
    for line in text.splitlines()[2:]:
        name, _, rest = line.partition(":")
        fields = rest.split()
        if len(fields) >= 16 and name.strip() != "lo":
            out[name.strip()] = [int(f) for f in fields]
    return out


def pod_metrics(node: Node) -> list[dict[str, Any]]:
    listed = {c["id"]: c for c in node.shim.call("list")["containers"]}
    out = []
    for sandbox in node.store.sandboxes():
        if sandbox["state"] != "SANDBOX_READY":
            continue
        per = []
        for doc in node.store.containers(sandbox["id"]):
            doc = containers.refresh(node, doc, listed)
            if doc["state"] == containers.RUNNING:
                per.append({"container_id": doc["id"],
                            "metrics": _container(node, sandbox, doc)})
        out.append({"pod_sandbox_id": sandbox["id"], "metrics": _network(sandbox),
                    "container_metrics": per})
    return out
