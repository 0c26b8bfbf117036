"""docker stats: a container's CPU, memory, pids, block I/O and network use, read from
its cgroups (v1 or v2) and its network namespace, in the Engine API's stats shape
(GET /containers/{id}/stats).

A sample is a handful of small file reads, no process spawned: hundreds of containers
streamed at once cost little. The CPU percentage is the client's to compute from two
samples (cpu_stats and precpu_stats), as docker's does.
"""

from __future__ import annotations

import datetime
import os
import time
from typing import TYPE_CHECKING, Any

from darse.runtime.state import load as load_state

if TYPE_CHECKING:
    from darse.engine.engine import Engine

ZERO_TIME = "0001-01-01T00:00:00Z"
NS = 1_000_000_000
CLK_TCK = os.sysconf("SC_CLK_TCK")
BLKIO = ("io_service_bytes_recursive", "io_serviced_recursive", "io_queue_recursive",
         "io_service_time_recursive", "io_wait_time_recursive", "io_merged_recursive",
         "io_time_recursive", "sectors_recursive")


def _now() -> str:
    t = time.time_ns()
    stamp = datetime.datetime.fromtimestamp(t // NS, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{t % NS:09d}".rstrip("0") + "Z"


def _read(path: str) -> str | None:
    # os.read, not open(): a text file object cost more than the kernel's side of these
    # small files, and a reading is fourteen of them. cgroup and proc files are seq_files,
    # which fill a read to its size unless at their end: a shorter read is the whole (a
    # read less, of two, per file).
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
            if len(chunk) < 65536:
                break
    except OSError:
        return None
    finally:
        os.close(fd)
    return b"".join(chunks).decode()


def _int(path: str) -> int | None:
    text = _read(path)
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None  # "max"


def _pairs(path: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in (_read(path) or "").splitlines():
        key, _, value = line.partition(" ")
        if value.strip().lstrip("-").isdigit():
            out[key] = int(value)
    return out


def host_memory() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


_HOST = [0.0, 0, 1]  # (monotonic time, host_memory(), os.cpu_count()) of the last look


def _host() -> tuple[int, int]:
    """(host_memory(), the online CPUs): looked up once a second at most, not for each
    of 1000 containers read at once (sysconf's 16 us a look)."""
    now_ = time.monotonic()
    if now_ - _HOST[0] > 1:
        _HOST[:] = now_, host_memory(), os.cpu_count() or 1
    return _HOST[1], _HOST[2]


_SYSTEM_CPU = [0.0, 0]  # (monotonic time, value) of the last reading of /proc/stat
SYSTEM_CPU_REUSE = 0.01  # seconds; under /proc/stat's own resolution of a clock tick


def system_cpu_usage() -> int:
    """The host's CPU time in nanoseconds, as dockerd reads it from /proc/stat: once for
    all the containers read within a tick (dockerd's collector reads it once a round)."""
    at, value = _SYSTEM_CPU
    now_ = time.monotonic()
    if now_ - at < SYSTEM_CPU_REUSE:
        return value
    value = 0
    for line in (_read("/proc/stat") or "").splitlines():
        if line.startswith("cpu "):
            value = sum(int(v) for v in line.split()[1:8]) * NS // CLK_TCK
            break
    _SYSTEM_CPU[:] = now_, value
    return value


def zero(doc: dict[str, Any]) -> dict[str, Any]:
    """What dockerd answers for a container that does not run."""
    cpu = {"cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
           "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}}
    return {"read": ZERO_TIME, "preread": ZERO_TIME, "pids_stats": {},
            "blkio_stats": dict.fromkeys(BLKIO), "num_procs": 0, "storage_stats": {},
            "cpu_stats": cpu, "precpu_stats": cpu, "memory_stats": {}, "name": doc["Name"],
            "id": doc["Id"]}


def _cpu_v1(paths: dict[str, str]) -> dict[str, Any]:
    acct = paths.get("cpuacct") or paths.get("cpu") or ""
    ticks = _pairs(os.path.join(acct, "cpuacct.stat"))
    percpu = [int(v) for v in (_read(os.path.join(acct, "cpuacct.usage_percpu")) or "").split()]
    throttle = _pairs(os.path.join(paths.get("cpu") or acct, "cpu.stat"))
    return {"cpu_usage": {"total_usage": _int(os.path.join(acct, "cpuacct.usage")) or 0,
                          "percpu_usage": percpu,
                          "usage_in_kernelmode": ticks.get("system", 0) * NS // CLK_TCK,
                          "usage_in_usermode": ticks.get("user", 0) * NS // CLK_TCK},
            "throttling_data": {"periods": throttle.get("nr_periods", 0),
                                "throttled_periods": throttle.get("nr_throttled", 0),
                                "throttled_time": throttle.get("throttled_time", 0)}}


def _memory_v1(path: str) -> dict[str, Any]:
    limit = _int(os.path.join(path, "memory.limit_in_bytes")) or 0
    return {"usage": _int(os.path.join(path, "memory.usage_in_bytes")) or 0,
            "max_usage": _int(os.path.join(path, "memory.max_usage_in_bytes")) or 0,
            "stats": _pairs(os.path.join(path, "memory.stat")),
            "limit": min(limit, host_memory()) if limit > 0 else host_memory()}


def _blkio_entries(path: str) -> list[dict[str, Any]]:
    entries = []
    for line in (_read(path) or "").splitlines():
        fields = line.split()
        if len(fields) == 3 and ":" in fields[0]:
            major, minor = fields[0].split(":")
            entries.append({"major": int(major), "minor": int(minor), "op": fields[1],
                            "value": int(fields[2])})
    return entries


def _blkio_v1(path: str) -> dict[str, Any]:
    out: dict[str, Any] = {key: _blkio_entries(os.path.join(path, f"blkio.throttle.{key}"))
                           for key in ("io_service_bytes_recursive", "io_serviced_recursive")}
    for key in BLKIO:
        out.setdefault(key, [])
    return out


def _cpu_v2(path: str) -> dict[str, Any]:
    cpu = _pairs(os.path.join(path, "cpu.stat"))
    return {"cpu_usage": {"total_usage": cpu.get("usage_usec", 0) * 1000,
                          "usage_in_kernelmode": cpu.get("system_usec", 0) * 1000,
                          "usage_in_usermode": cpu.get("user_usec", 0) * 1000},
            "throttling_data": {"periods": cpu.get("nr_periods", 0),
                                "throttled_periods": cpu.get("nr_throttled", 0),
                                "throttled_time": cpu.get("throttled_usec", 0) * 1000}}


def _io_v2(path: str) -> list[dict[str, Any]]:
    blk: list[dict[str, Any]] = []
    for line in (_read(os.path.join(path, "io.stat")) or "").splitlines():
        dev, *fields = line.split()
        major, _, minor = dev.partition(":")
        values = dict(f.split("=", 1) for f in fields if "=" in f)
        for op, key in (("read", "rbytes"), ("write", "wbytes")):
            if key in values:
                blk.append({"major": int(major), "minor": int(minor), "op": op,
                            "value": int(values[key])})
    return blk


def _v2(path: str) -> dict[str, Any]:
    limit = _int(os.path.join(path, "memory.max"))
    blk = _io_v2(path)
    pids_max = _int(os.path.join(path, "pids.max"))
    return {
        "cpu_stats": _cpu_v2(path),
        "memory_stats": {"usage": _int(os.path.join(path, "memory.current")) or 0,
                         "stats": _pairs(os.path.join(path, "memory.stat")),
                         "limit": limit if limit else host_memory()},
        "pids_stats": {"current": _int(os.path.join(path, "pids.current")) or 0,
                       **({"limit": pids_max} if pids_max else {})},
        "blkio_stats": {**dict.fromkeys(BLKIO, []), "io_service_bytes_recursive": blk},
    }


def _networks(pid: int) -> dict[str, Any]:
    """Interface counters of the container's network namespace, seen through its pid."""
    out = {}
    for line in (_read(f"/proc/{pid}/net/dev") or "").splitlines()[2:]:
        name, _, rest = line.partition(":")
        name, values = name.strip(), rest.split()
        if name == "lo" or len(values) < 16:
            continue
        v = [int(x) for x in values]
        out[name] = {"rx_bytes": v[0], "rx_packets": v[1], "rx_errors": v[2],
                     "rx_dropped": v[3], "tx_bytes": v[8], "tx_packets": v[9],
                     "tx_errors": v[10], "tx_dropped": v[11]}
    return out


# (runtime root, id) -> (pid, cgroup paths): a run's cgroups do not move, and the
# runtime's state file (its whole OCI config) was most of a reading's cost, which
# `stats --no-stream` pays twice for each of 1000 containers.
_PATHS: dict[tuple[str, str], tuple[int, dict[str, str]]] = {}
_PATHS_MAX = 4096


def _cgroup_paths(engine: Engine, doc: dict[str, Any]) -> dict[str, str] | None:
    root = os.path.join(engine.config.exec_root, "runtime")
    key, pid = (root, doc["Id"]), doc["State"]["Pid"]
    known = _PATHS.get(key)
    if known is not None and known[0] == pid:
        return known[1]
    try:
        paths = load_state(root, doc["Id"]).cgroup_paths
    except Exception:  # noqa: BLE001 - gone meanwhile
        return None
    if len(_PATHS) >= _PATHS_MAX:  # removed containers' entries: dropped wholesale
        _PATHS.clear()
    _PATHS[key] = (pid, paths)
    return paths


def sample(engine: Engine, doc: dict[str, Any], cpu_only: bool = False) -> dict[str, Any]:
    """One reading of a container; zero() if it does not run (or stopped meanwhile).
    cpu_only: its CPU alone, what a later reading takes as precpu_stats (4 files of 14)."""
    if not doc["State"]["Running"]:
        return zero(doc)
    paths = _cgroup_paths(engine, doc)
    if paths is None:
        return zero(doc)
    out = zero(doc)
    out["read"] = _now()
    if cpu_only:
        out["cpu_stats"] = _cpu_v2(paths[""]) if "" in paths else _cpu_v1(paths)
        out["cpu_stats"]["system_cpu_usage"] = system_cpu_usage()
        out["cpu_stats"]["online_cpus"] = os.cpu_count() or 1
        return out
    if "" in paths:
        out.update(_v2(paths[""]))
    else:
        out["cpu_stats"] = _cpu_v1(paths)
        if "memory" in paths:
            out["memory_stats"] = _memory_v1(paths["memory"])
        if "pids" in paths:
            limit = _int(os.path.join(paths["pids"], "pids.max"))
            out["pids_stats"] = {"current": _int(os.path.join(paths["pids"], "pids.current"))
                                 or 0, **({"limit": limit} if limit else {})}
        if "blkio" in paths:
            out["blkio_stats"] = _blkio_v1(paths["blkio"])
    out["cpu_stats"]["system_cpu_usage"] = system_cpu_usage()
    out["cpu_stats"]["online_cpus"] = os.cpu_count() or 1
    _add_networks(out, doc)
    return out


def _add_networks(out: dict[str, Any], doc: dict[str, Any]) -> None:
    """The interfaces' counters, for a container with a network namespace of its own."""
    mode = doc["HostConfig"].get("NetworkMode") or ""
    if mode != "host" and not mode.startswith("container:") and doc["State"]["Pid"]:
        networks = _networks(doc["State"]["Pid"])
        if networks:
            out["networks"] = networks


def with_previous(current: dict[str, Any], previous: dict[str, Any] | None) -> dict[str, Any]:
    if previous is not None and previous["read"] != ZERO_TIME:
        current["preread"] = previous["read"]
        current["precpu_stats"] = previous["cpu_stats"]
    return current


# --- the columns of `docker stats`, for all containers at once (GET /containers/stats) ---
# What docker stats prints reads a few of a reading's figures; the files behind the
# others (cpuacct.stat and usage_percpu, cpu.stat, max_usage, pids.max, the blkio files
# besides service bytes) were 6 of 13 opens of a reading, and its memory.stat parsed
# whole most of the rest: for 1000 containers, 320 ms of 430.

INACTIVE = ("total_inactive_file", "inactive_file")  # what the client takes from usage


def _stat_keys(path: str, keys: tuple[str, ...]) -> dict[str, int]:
    """Those keys' values of a "key value" per line file (memory.stat: 40 lines)."""
    text = "\n" + (_read(path) or "")
    out: dict[str, int] = {}
    for key in keys:
        at = text.find(f"\n{key} ")
        if at >= 0:
            start = at + len(key) + 2
            end = text.find("\n", start)
            try:
                out[key] = int(text[start:end if end >= 0 else None])
            except ValueError:
                continue
    return out


def cpu_reading(engine: Engine, doc: dict[str, Any]) -> dict[str, Any]:
    """A reading of a container's CPU time alone (its cgroup's total, one file): zero()
    if it does not run."""
    paths = _cgroup_paths(engine, doc) if doc["State"]["Running"] else None
    out = zero(doc)
    if paths is None:
        return out
    out["read"] = _now()
    if "" in paths:
        usage = _stat_keys(f"{paths['']}/cpu.stat", ("usage_usec",)).get("usage_usec", 0) \
            * 1000
    else:
        acct = paths.get("cpuacct") or paths.get("cpu") or ""
        usage = _int(f"{acct}/cpuacct.usage") or 0
    out["cpu_stats"] = {"cpu_usage": {"total_usage": usage},
                        "system_cpu_usage": system_cpu_usage(), "online_cpus": _host()[1]}
    return out


def column_figures(engine: Engine, doc: dict[str, Any]) -> dict[str, Any]:
    """The other figures docker stats shows (memory use and limit, the page cache it
    leaves out, network and block I/O, pids), in a reading's keys; {} if it does not run."""
    paths = _cgroup_paths(engine, doc) if doc["State"]["Running"] else None
    if paths is None:
        return {}
    out: dict[str, Any] = {}
    memory = _host()[0]
    if "" in paths:
        path = paths[""]
        limit = _int(f"{path}/memory.max")
        out["memory_stats"] = {"usage": _int(f"{path}/memory.current") or 0,
                               "stats": _stat_keys(f"{path}/memory.stat", INACTIVE),
                               "limit": limit if limit else memory}
        out["pids_stats"] = {"current": _int(f"{path}/pids.current") or 0}
        out["blkio_stats"] = {**dict.fromkeys(BLKIO), "io_service_bytes_recursive":
                              _io_v2(path)}
    else:
        if "memory" in paths:
            path = paths["memory"]
            limit = _int(f"{path}/memory.limit_in_bytes") or 0
            out["memory_stats"] = {
                "usage": _int(f"{path}/memory.usage_in_bytes") or 0,
                "stats": _stat_keys(f"{path}/memory.stat", INACTIVE),
                "limit": min(limit, memory) if limit > 0 else memory}
        if "pids" in paths:
            out["pids_stats"] = {"current": _int(f"{paths['pids']}/pids.current") or 0}
        if "blkio" in paths:
            served = _blkio_entries(f"{paths['blkio']}/blkio.throttle.io_service_bytes_recursive")
            out["blkio_stats"] = {**dict.fromkeys(BLKIO), "io_service_bytes_recursive": served}
    _add_networks(out, doc)
    return out
