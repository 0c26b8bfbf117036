"""run/create's resource limits and namespace modes, from HostConfig into the OCI spec:
CPU (period, quota, realtime, cpusets), memory (reservation, swappiness, OOM killer),
block I/O (weights, throttles), ulimits, OOM score, the cgroup parent, and the pid, ipc,
uts and cgroup namespaces (private, the host's, or another container's).

Refusals are dockerd 20.10's, in its words, at create: nothing is recorded for them.
"""

from __future__ import annotations

import os
import stat
from typing import TYPE_CHECKING, Any

from darse.engine import links
from darse.errors import Conflict, InvalidArgument

if TYPE_CHECKING:
    from darse.engine.engine import Engine

BLKIO_ROOT = "/sys/fs/cgroup/blkio"
IPC_MODES = ("", "none", "private", "shareable", "host")


def _cpu_list(text: str) -> set[int]:
    out: set[int] = set()
    for part in text.split(","):
        first, _, last = part.partition("-")
        if not first.strip().isdigit() or (last and not last.strip().isdigit()):
            raise ValueError(part)
        out.update(range(int(first), int(last or first) + 1))
    return out


def _online(kind: str) -> str:
    for path in (f"/sys/fs/cgroup/cpuset/cpuset.{kind}",
                 f"/sys/fs/cgroup/cpuset.{kind}.effective"):
        try:
            with open(path) as f:
                return f.read().strip()
        except OSError:
            continue
    return "0"


def _mode_target(engine: Engine, mode: str, what: str) -> dict[str, Any] | None:
    if not mode.startswith("container:"):
        return None
    return engine.containers.find(mode.split(":", 1)[1])


def validate(engine: Engine, hc: dict[str, Any]) -> None:
    """dockerd's refusals of these fields, before anything is recorded."""
    isolation = hc.get("Isolation") or ""
    if isolation not in ("", "default"):
        raise InvalidArgument(f'Invalid isolation: "{isolation}" - linux only supports '
                              "'default'")
    for request in hc.get("DeviceRequests") or []:
        # No device driver (NVIDIA's container toolkit or another) is known to darse.
        caps = " ".join("[" + " ".join(c) + "]" for c in request.get("Capabilities") or [])
        raise InvalidArgument(f'could not select device driver "{request.get("Driver", "")}" '
                              f"with capabilities: [{caps}]")
    if hc.get("StorageOpt"):
        raise InvalidArgument("--storage-opt is supported only for overlay over xfs with "
                              "'pquota' mount option")
    score = hc.get("OomScoreAdj") or 0
    if not -1000 <= score <= 1000:
        raise InvalidArgument(f"Invalid value {score}, range for oom score adj is "
                              "[-1000, 1000]")
    swappiness = hc.get("MemorySwappiness")
    if swappiness is not None and swappiness != -1 and not 0 <= swappiness <= 100:
        raise InvalidArgument(f"Invalid value: {swappiness}, valid memory swappiness range "
                              "is 0-100")
    memory, reservation = hc.get("Memory") or 0, hc.get("MemoryReservation") or 0
    if memory and reservation and memory < reservation:
        raise InvalidArgument("Minimum memory limit can not be less than memory reservation "
                              "limit, see usage")
    if memory and (hc.get("MemorySwap") or 0) > 0 and hc["MemorySwap"] < memory:
        raise InvalidArgument("Minimum memoryswap limit should be larger than memory limit, "
                              "see usage")
    weight = hc.get("BlkioWeight") or 0
    if weight and not 10 <= weight <= 1000:
        raise InvalidArgument("Range of blkio weight is from 10 to 1000")
    for kind, label in (("cpus", "CPUs"), ("mems", "memory nodes")):
        wanted = hc.get("CpusetCpus" if kind == "cpus" else "CpusetMems") or ""
        if not wanted:
            continue
        available = _online(kind)
        try:
            ok = _cpu_list(wanted) <= _cpu_list(available)
        except ValueError:
            raise InvalidArgument(f"Invalid value {wanted} for cpuset {kind}") from None
        if not ok:
            raise InvalidArgument(f"Requested {label} are not available - requested "
                                  f"{wanted}, available: {available}")
    ipc = hc.get("IpcMode") or ""
    if ipc not in IPC_MODES and not ipc.startswith("container:"):
        raise InvalidArgument(f"Invalid IPC mode: {ipc}")
    for key, label in (("PidMode", "PID"), ("UTSMode", "UTS")):
        mode = hc.get(key) or ""
        if mode not in ("", "host") and not (key == "PidMode" and
                                             mode.startswith("container:")):
            raise InvalidArgument(f"invalid {label} mode: {mode}")
    if (hc.get("CgroupnsMode") or "") not in ("", "host", "private"):
        raise InvalidArgument(f"invalid cgroup namespace mode: {hc['CgroupnsMode']}")
    for key in ("PidMode", "IpcMode"):
        _mode_target(engine, hc.get(key) or "", key)  # an unknown container: refused now
    for ulimit in hc.get("Ulimits") or []:
        from darse.runtime.spec import RLIMITS

        if f"RLIMIT_{ulimit.get('Name', '').upper()}" not in RLIMITS:
            raise InvalidArgument(f"invalid ulimit type: {ulimit.get('Name')}")


def warnings(hc: dict[str, Any]) -> list[str]:
    """What dockerd warns of at create (the docker CLI prints each as WARNING: ...)."""
    out = []
    if hc.get("KernelMemory"):
        out.append("Specifying a kernel memory limit is deprecated and will be removed in a "
                   "future release.")
    if hc.get("BlkioWeight") and not os.path.exists(os.path.join(BLKIO_ROOT,
                                                                 "blkio.weight")):
        out.append("Your kernel does not support Block I/O weight or the cgroup is not "
                   "mounted. Weight discarded.")
    if hc.get("OomKillDisable") and not hc.get("Memory"):
        out.append("OOM killer is disabled for the container, but no memory limit is set, "
                   "this can result in the system running out of resources.")
    return out


def _device_numbers(path: str) -> tuple[int, int]:
    try:
        st = os.stat(path)
    except OSError as exc:
        raise InvalidArgument(f"{path}: {exc.strerror}") from None
    if not stat.S_ISBLK(st.st_mode):
        raise InvalidArgument(f"{path} is not a block device")
    return os.major(st.st_rdev), os.minor(st.st_rdev)


def apply(engine: Engine, oci: dict[str, Any], hc: dict[str, Any], container_id: str) -> None:
    """These fields into the container's spec (built by darse.engine.spec)."""
    linux, process = oci["linux"], oci["process"]
    res = linux.setdefault("resources", {})
    cpu = res.setdefault("cpu", {})
    for key, field in (("realtimePeriod", "CpuRealtimePeriod"),
                       ("realtimeRuntime", "CpuRealtimeRuntime"), ("mems", "CpusetMems")):
        if hc.get(field):
            cpu[key] = hc[field]
    if not cpu:
        res.pop("cpu")
    memory = res.setdefault("memory", {})
    if hc.get("MemoryReservation"):
        memory["reservation"] = hc["MemoryReservation"]
    if hc.get("MemorySwappiness") not in (None, -1):
        memory["swappiness"] = hc["MemorySwappiness"]
    if hc.get("OomKillDisable"):
        memory["disableOOMKiller"] = True
    if not memory:
        res.pop("memory")
    blkio: dict[str, Any] = {}
    # dockerd discards a weight the kernel has no file for (no CFQ/BFQ weight), with a
    # warning; so does darse, rather than fail the start.
    if hc.get("BlkioWeight") and os.path.exists(os.path.join(BLKIO_ROOT, "blkio.weight")):
        blkio["weight"] = hc["BlkioWeight"]
    for key, field, value in (("throttleReadBpsDevice", "BlkioDeviceReadBps", "Rate"),
                              ("throttleWriteBpsDevice", "BlkioDeviceWriteBps", "Rate"),
                              ("throttleReadIOPSDevice", "BlkioDeviceReadIOps", "Rate"),
                              ("throttleWriteIOPSDevice", "BlkioDeviceWriteIOps", "Rate")):
        for dev in hc.get(field) or []:
            major, minor = _device_numbers(dev["Path"])
            blkio.setdefault(key, []).append({"major": major, "minor": minor,
                                              "rate": dev[value]})
    if os.path.exists(os.path.join(BLKIO_ROOT, "blkio.weight_device")):
        for dev in hc.get("BlkioWeightDevice") or []:
            major, minor = _device_numbers(dev["Path"])
            blkio.setdefault("weightDevice", []).append({"major": major, "minor": minor,
                                                         "weight": dev["Weight"]})
    if blkio:
        res["blockIO"] = blkio
    if hc.get("Ulimits"):
        process["rlimits"] = [{"type": f"RLIMIT_{u['Name'].upper()}", "soft": u["Soft"],
                               "hard": u["Hard"]} for u in hc["Ulimits"]]
    if hc.get("CgroupParent"):
        linux["cgroupsPath"] = f"/{hc['CgroupParent'].strip('/')}/{container_id}"
    _namespace_modes(engine, oci, hc)
    doc = engine.containers.get(container_id)
    if doc is not None and hc.get("Links") and links.legacy(hc):
        links.add_environment(engine, oci, doc)


def _namespace_modes(engine: Engine, oci: dict[str, Any], hc: dict[str, Any]) -> None:
    namespaces = oci["linux"]["namespaces"]

    def set_ns(kind: str, mode: str) -> None:
        i = next((n for n, ns in enumerate(namespaces) if ns["type"] == kind), None)
        if i is None:
            return
        if mode == "host":
            del namespaces[i]
            return
        other = _mode_target(engine, mode, kind)
        if other is not None:
            if not other["State"]["Running"]:
                raise Conflict(f"cannot join {kind} namespace of a non running container: "
                               f"{other['Id']}")
            name = {"pid": "pid", "ipc": "ipc"}[kind]
            namespaces[i] = {"type": kind, "path": f"/proc/{other['State']['Pid']}/ns/{name}"}

    set_ns("pid", hc.get("PidMode") or "")
    ipc = hc.get("IpcMode") or ""
    # container:X joins X's IPC namespace (System V IPC, message queues); its /dev/shm
    # stays its own: X's tmpfs is a mount of X's mount namespace, which cannot be bound.
    set_ns("ipc", ipc)
    shm = next((m for m in oci["mounts"] if m["destination"] == "/dev/shm"), None)
    if shm is not None:
        if ipc == "host":
            shm.update(type="bind", source="/dev/shm", options=["rbind", "rprivate"])
        elif ipc == "none":
            oci["mounts"].remove(shm)
    if (hc.get("UTSMode") or "") == "host":
        set_ns("uts", "host")
        oci.pop("hostname", None)
        oci.pop("domainname", None)
    if (hc.get("CgroupnsMode") or "") == "host":
        set_ns("cgroup", "host")
