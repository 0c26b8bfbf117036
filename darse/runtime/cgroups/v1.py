"""cgroup v1: one hierarchy per controller (cgroups-v1 in the kernel's documentation)."""

from __future__ import annotations

import os
import time

from darse.errors import SystemFailure, Unavailable
from darse.runtime.cgroups import devices
from darse.runtime.cgroups._files import read, write

CONTROLLERS = ("cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids",
               "net_cls", "net_prio", "hugetlb", "perf_event", "rdma", "misc")

def _mkdirs(path: str, controller: str) -> None:
    """mkdir -p; cpuset directories start empty and must inherit their parent's sets."""
    parent = os.path.dirname(path)
    if not os.path.isdir(parent):
        _mkdirs(parent, controller)
    try:
        os.mkdir(path)
    except FileExistsError:
        return
    except FileNotFoundError:  # the parent went with another container's delete: again
        _mkdirs(parent, controller)
        os.mkdir(path)
    if controller == "cpuset":
        for name in ("cpuset.cpus", "cpuset.mems"):
            if not read(path, name):
                write(path, name, read(parent, name))


class _Paths(dict):
    """{controller: dir} whose missing controllers fail with a message, not a KeyError."""

    def __missing__(self, controller: str) -> str:
        raise Unavailable(f"cgroups: the {controller} controller is not mounted on this host")


def create(paths: dict[str, str], res: dict) -> None:
    for controller, path in paths.items():
        _mkdirs(path, controller)
    set_limits(paths, res)
    if "devices" in paths:
        _devices(paths["devices"], res.get("devices") or [])


def set_limits(paths: dict[str, str], res: dict) -> None:
    """Every limit of res but the device rules (create's, and update's on a live one)."""
    paths = _Paths(paths)
    mem = res.get("memory") or {}
    if "memory" in paths and mem:
        _memory(paths["memory"], mem)
    cpu = res.get("cpu") or {}
    if cpu:
        _cpu(paths, cpu)
    if "pids" in paths and (res.get("pids") or {}).get("limit") is not None:
        limit = res["pids"]["limit"]
        write(paths["pids"], "pids.max", "max" if limit <= 0 else limit)
    if res.get("blockIO"):
        _blkio(paths["blkio"], res["blockIO"])
    for page in res.get("hugepageLimits") or []:
        write(paths["hugetlb"], f"hugetlb.{page['pageSize']}.limit_in_bytes", page["limit"])
    net = res.get("network") or {}
    if net.get("classID") is not None:
        write(paths["net_cls"], "net_cls.classid", net["classID"])
    for prio in net.get("priorities") or []:
        write(paths["net_prio"], "net_prio.ifpriomap", f"{prio['name']} {prio['priority']}")


def _memory(path: str, mem: dict) -> None:
    limit, swap = mem.get("limit"), mem.get("swap")
    if swap is not None:
        # memsw must stay >= limit at every step, so raise memsw first when growing.
        try:
            write(path, "memory.memsw.limit_in_bytes", swap)
        except SystemFailure:
            pass
    if limit is not None:
        write(path, "memory.limit_in_bytes", limit)
    if swap is not None:
        write(path, "memory.memsw.limit_in_bytes", swap)
    if mem.get("reservation") is not None:
        write(path, "memory.soft_limit_in_bytes", mem["reservation"])
    if mem.get("kernelTCP") is not None:
        write(path, "memory.kmem.tcp.limit_in_bytes", mem["kernelTCP"])
    if mem.get("swappiness") is not None and mem["swappiness"] >= 0:
        write(path, "memory.swappiness", mem["swappiness"])
    if mem.get("disableOOMKiller"):
        write(path, "memory.oom_control", 1)


def _cpu(paths: dict[str, str], cpu: dict) -> None:
    if cpu.get("shares"):
        write(paths["cpu"], "cpu.shares", cpu["shares"])
    if cpu.get("period"):
        write(paths["cpu"], "cpu.cfs_period_us", cpu["period"])
    if cpu.get("quota"):
        write(paths["cpu"], "cpu.cfs_quota_us", cpu["quota"])
    if cpu.get("realtimePeriod"):
        write(paths["cpu"], "cpu.rt_period_us", cpu["realtimePeriod"])
    if cpu.get("realtimeRuntime"):
        write(paths["cpu"], "cpu.rt_runtime_us", cpu["realtimeRuntime"])
    if cpu.get("idle") is not None:
        write(paths["cpu"], "cpu.idle", cpu["idle"])
    if cpu.get("cpus"):
        write(paths["cpuset"], "cpuset.cpus", cpu["cpus"])
    if cpu.get("mems"):
        write(paths["cpuset"], "cpuset.mems", cpu["mems"])


def _blkio(path: str, bio: dict) -> None:
    weight_file = "blkio.weight" if os.path.exists(f"{path}/blkio.weight") else "blkio.bfq.weight"
    if bio.get("weight"):
        write(path, weight_file, bio["weight"])
    if bio.get("leafWeight"):
        write(path, "blkio.leaf_weight", bio["leafWeight"])
    for dev in bio.get("weightDevice") or []:
        if dev.get("weight"):
            write(path, "blkio.weight_device", f"{dev['major']}:{dev['minor']} {dev['weight']}")
    for key, name in (("throttleReadBpsDevice", "read_bps_device"),
                      ("throttleWriteBpsDevice", "write_bps_device"),
                      ("throttleReadIOPSDevice", "read_iops_device"),
                      ("throttleWriteIOPSDevice", "write_iops_device")):
        for dev in bio.get(key) or []:
            write(path, f"blkio.throttle.{name}", f"{dev['major']}:{dev['minor']} {dev['rate']}")


def _devices(path: str, rules: list[dict]) -> None:
    for rule in devices.with_defaults(rules):
        write(path, "devices.allow" if rule.get("allow") else "devices.deny", devices.v1_rule(rule))


def is_frozen(path: str) -> bool:
    try:
        return read(path, "freezer.state") != "THAWED"
    except FileNotFoundError:
        return False


def freeze(path: str, frozen: bool) -> None:
    want = "FROZEN" if frozen else "THAWED"
    for _ in range(1000):
        write(path, "freezer.state", want)
        if read(path, "freezer.state") == want:
            return
        time.sleep(0.001)
    raise SystemFailure(f"cgroups: {path} did not reach {want}")
