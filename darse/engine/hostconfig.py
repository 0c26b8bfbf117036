"""A container's HostConfig as dockerd records it: every field present, with dockerd
20.10's default where the request left it unset (nothing of a request is dropped).

dockerd's inspect shows the complete HostConfig after its create-time adjustments: lists
it owns shown empty rather than null, a zero PidsLimit or a -1 swappiness as null, the
shared memory size, the IPC and cgroup namespace modes, the masked paths. Clients
compare with these (docker-py's tests read HostConfig back), so they are the same here.
"""

from __future__ import annotations

import copy
import os
from typing import Any

from darse.engine import spec

RUNTIME = "runc"  # Docker's name for the default runtime, darse-runtime here (design.md)
SHM_SIZE = 64 * 1024 * 1024


def _cgroupns_default() -> str:
    # dockerd's: a namespace of its own under cgroup v2, the host's under v1 (where
    # /proc/self/cgroup then shows the container's path on the host, as with dockerd).
    return "private" if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else "host"


# Field -> default of an unset (absent or null) field, as dockerd 20.10 shows it. A
# default of None keeps the field null; callables give a default computed at create.
DEFAULTS: dict[str, Any] = {
    "Binds": None, "ContainerIDFile": "", "LogConfig": {"Type": "json-file", "Config": {}},
    "NetworkMode": "default", "PortBindings": {},
    "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0}, "AutoRemove": False,
    "VolumeDriver": "", "VolumesFrom": None, "ConsoleSize": [0, 0], "CapAdd": None,
    "CapDrop": None, "CgroupnsMode": _cgroupns_default, "Dns": [], "DnsOptions": [],
    "DnsSearch": [], "ExtraHosts": None, "GroupAdd": None, "IpcMode": "private",
    "Cgroup": "", "Links": None, "OomScoreAdj": 0, "PidMode": "", "Privileged": False,
    "PublishAllPorts": False, "ReadonlyRootfs": False, "SecurityOpt": None, "UTSMode": "",
    "UsernsMode": "", "ShmSize": SHM_SIZE, "Runtime": RUNTIME, "Isolation": "",
    "CpuShares": 0, "Memory": 0, "NanoCpus": 0, "CgroupParent": "", "BlkioWeight": 0,
    "BlkioWeightDevice": [], "BlkioDeviceReadBps": [], "BlkioDeviceWriteBps": [],
    "BlkioDeviceReadIOps": [], "BlkioDeviceWriteIOps": [], "CpuPeriod": 0, "CpuQuota": 0,
    "CpuRealtimePeriod": 0, "CpuRealtimeRuntime": 0, "CpusetCpus": "", "CpusetMems": "",
    "Devices": [], "DeviceCgroupRules": None, "DeviceRequests": None,
    "MemoryReservation": 0, "MemorySwap": 0, "MemorySwappiness": None,
    "OomKillDisable": False, "PidsLimit": None, "Ulimits": [], "CpuCount": 0,
    "CpuPercent": 0, "IOMaximumIOps": 0, "IOMaximumBandwidth": 0, "KernelMemory": 0,
    "KernelMemoryTCP": 0,
}


def complete(host_config: dict[str, Any]) -> dict[str, Any]:
    """host_config with every field dockerd shows; changed in place and returned."""
    for key, default in DEFAULTS.items():
        if host_config.get(key) is None:
            host_config[key] = default() if callable(default) else copy.deepcopy(default)
    if not host_config.get("ShmSize"):
        host_config["ShmSize"] = SHM_SIZE
    if (host_config.get("PidsLimit") or 0) <= 0:
        host_config["PidsLimit"] = None  # 0 and -1 both mean no limit
    if host_config.get("MemorySwappiness") == -1:
        host_config["MemorySwappiness"] = None
    if not host_config.get("IpcMode"):
        host_config["IpcMode"] = "private"
    if not host_config.get("CgroupnsMode"):
        host_config["CgroupnsMode"] = _cgroupns_default()
    privileged = bool(host_config.get("Privileged"))
    if host_config.get("MaskedPaths") is None and not privileged:
        host_config["MaskedPaths"] = list(spec.MASKED_PATHS)
    if host_config.get("ReadonlyPaths") is None and not privileged:
        host_config["ReadonlyPaths"] = list(spec.READONLY_PATHS)
    host_config.setdefault("MaskedPaths", None)
    host_config.setdefault("ReadonlyPaths", None)
    return host_config
