"""cgroup v2: one unified tree (the kernel's cgroup-v2.rst)."""

from __future__ import annotations

import os
import time

from darse.errors import SystemFailure
from darse.runtime.cgroups import devices, devices_bpf
from darse.runtime.cgroups._files import read, write


def _enable_controllers(path: str) -> None:
    """Each ancestor must delegate its controllers to its children (subtree_control)."""
    parts = path.rstrip("/").split("/")
    root = "/sys/fs/cgroup"
    for i in range(len(parts) - 1, 0, -1):
        if os.path.isfile("/".join(parts[:i]) + "/cgroup.controllers"):
            root = "/".join(parts[:i])
        else:
            break
    cur = root
    for part in path[len(root):].strip("/").split("/"):
        available = read(cur, "cgroup.controllers").split()
        enabled = set(read(cur, "cgroup.subtree_control").split())
        for ctl in available:
            if ctl not in enabled:
                try:
                    write(cur, "cgroup.subtree_control", f"+{ctl}")
                except SystemFailure:
                    pass  # a controller the parent cannot delegate (e.g. it holds processes)
        cur = os.path.join(cur, part)
        os.makedirs(cur, exist_ok=True)


def shares_to_weight(shares: int) -> int:
    # The conversion runc and crun agree on: [2, 262144] onto [1, 10000].
    return 1 + ((shares - 2) * 9999) // 262142


def create(path: str, res: dict) -> None:
    _enable_controllers(path)
    os.makedirs(path, exist_ok=True)
    set_limits(path, res)
    rules = devices.with_defaults(res.get("devices") or [])
    if rules:
        devices_bpf.attach(path, rules)


def set_limits(path: str, res: dict) -> None:
    """Every limit of res but the device rules (create's, and update's on a live one)."""
    mem = res.get("memory") or {}
    if mem.get("limit") is not None:
        write(path, "memory.max", "max" if mem["limit"] < 0 else mem["limit"])
    if mem.get("swap") is not None:
        swap = mem["swap"]
        if swap < 0:
            write(path, "memory.swap.max", "max")
        else:
            write(path, "memory.swap.max", max(swap - (mem.get("limit") or 0), 0))
    if mem.get("reservation") is not None:
        write(path, "memory.low", mem["reservation"])
    cpu = res.get("cpu") or {}
    if cpu.get("shares"):
        write(path, "cpu.weight", shares_to_weight(cpu["shares"]))
    if cpu.get("quota") or cpu.get("period"):
        quota = cpu.get("quota") or 0
        write(path, "cpu.max", f"{quota if quota > 0 else 'max'} {cpu.get('period') or 100000}")
    if cpu.get("idle") is not None:
        write(path, "cpu.idle", cpu["idle"])
    if cpu.get("cpus"):
        write(path, "cpuset.cpus", cpu["cpus"])
    if cpu.get("mems"):
        write(path, "cpuset.mems", cpu["mems"])
    if (res.get("pids") or {}).get("limit") is not None:
        limit = res["pids"]["limit"]
        write(path, "pids.max", "max" if limit <= 0 else limit)
    bio = res.get("blockIO") or {}
    if bio.get("weight"):
        write(path, "io.weight", f"default {1 + (bio['weight'] - 10) * 9999 // 990}")
    for key, name in (("throttleReadBpsDevice", "rbps"), ("throttleWriteBpsDevice", "wbps"),
                      ("throttleReadIOPSDevice", "riops"), ("throttleWriteIOPSDevice", "wiops")):
        for dev in bio.get(key) or []:
            write(path, "io.max", f"{dev['major']}:{dev['minor']} {name}={dev['rate']}")
    for page in res.get("hugepageLimits") or []:
        write(path, f"hugetlb.{page['pageSize']}.max", page["limit"])
    for key, value in (res.get("unified") or {}).items():
        if "/" in key or key.startswith("."):
            raise SystemFailure(f"cgroups: invalid unified key {key!r}")
        write(path, key, value)


def is_frozen(path: str) -> bool:
    try:
        return read(path, "cgroup.freeze") == "1"
    except FileNotFoundError:
        return False


def freeze(path: str, frozen: bool) -> None:
    write(path, "cgroup.freeze", "1" if frozen else "0")
    want = "frozen 1" if frozen else "frozen 0"
    for _ in range(1000):
        if want in read(path, "cgroup.events").splitlines():
            return
        time.sleep(0.001)
    raise SystemFailure(f"cgroups: {path} did not reach {want}")
