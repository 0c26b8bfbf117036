"""inspect's HostConfig complete, as dockerd 20.10 answers it (its raw API answer for a
`docker run -d busybox sleep 100`, checked side by side): every field present with its
default, whether the create came from the docker CLI (which sends most fields) or from
an API client sending only what it sets (docker-py)."""

from __future__ import annotations

import json
import os

from tests.cli.test_cli import darse
from tests.daemon import Darsed

# The fields of dockerd 20.10's GET /containers/{id}/json HostConfig.
DOCKERD_FIELDS = {
    "AutoRemove", "Binds", "BlkioDeviceReadBps", "BlkioDeviceReadIOps", "BlkioDeviceWriteBps",
    "BlkioDeviceWriteIOps", "BlkioWeight", "BlkioWeightDevice", "CapAdd", "CapDrop", "Cgroup",
    "CgroupParent", "CgroupnsMode", "ConsoleSize", "ContainerIDFile", "CpuCount",
    "CpuPercent", "CpuPeriod", "CpuQuota", "CpuRealtimePeriod", "CpuRealtimeRuntime",
    "CpuShares", "CpusetCpus", "CpusetMems", "DeviceCgroupRules", "DeviceRequests",
    "Devices", "Dns", "DnsOptions", "DnsSearch", "ExtraHosts", "GroupAdd",
    "IOMaximumBandwidth", "IOMaximumIOps", "IpcMode", "Isolation", "KernelMemory",
    "KernelMemoryTCP", "Links", "LogConfig", "MaskedPaths", "Memory", "MemoryReservation",
    "MemorySwap", "MemorySwappiness", "NanoCpus", "NetworkMode", "OomKillDisable",
    "OomScoreAdj", "PidMode", "PidsLimit", "PortBindings", "Privileged", "PublishAllPorts",
    "ReadonlyPaths", "ReadonlyRootfs", "RestartPolicy", "Runtime", "SecurityOpt", "ShmSize",
    "UTSMode", "Ulimits", "UsernsMode", "VolumeDriver", "VolumesFrom"}
# dockerd's values for such a container (where darse's are its own, not here: Runtime
# is darse-runtime, the masked paths darse's).
DOCKERD_DEFAULTS = {
    "AutoRemove": False, "Binds": None, "BlkioDeviceReadBps": [], "BlkioDeviceReadIOps": [],
    "BlkioDeviceWriteBps": [], "BlkioDeviceWriteIOps": [], "BlkioWeight": 0,
    "BlkioWeightDevice": [], "CapAdd": None, "CapDrop": None, "Cgroup": "",
    "CgroupParent": "", "ConsoleSize": [0, 0], "ContainerIDFile": "", "CpuCount": 0,
    "CpuPercent": 0, "CpuPeriod": 0, "CpuQuota": 0, "CpuRealtimePeriod": 0,
    "CpuRealtimeRuntime": 0, "CpuShares": 0, "CpusetCpus": "", "CpusetMems": "",
    "DeviceCgroupRules": None, "DeviceRequests": None, "Devices": [], "Dns": [],
    "DnsOptions": [], "DnsSearch": [], "ExtraHosts": None, "GroupAdd": None,
    "IOMaximumBandwidth": 0, "IOMaximumIOps": 0, "IpcMode": "private", "Isolation": "",
    "KernelMemory": 0, "KernelMemoryTCP": 0, "Links": None,
    "LogConfig": {"Type": "json-file", "Config": {}}, "Memory": 0, "MemoryReservation": 0,
    "MemorySwap": 0, "MemorySwappiness": None, "NanoCpus": 0, "NetworkMode": "default",
    "OomKillDisable": False,
    "OomScoreAdj": 0, "PidMode": "", "PidsLimit": None, "PortBindings": {},
    "Privileged": False, "PublishAllPorts": False,
    "ReadonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                      "/proc/sysrq-trigger"],
    "ReadonlyRootfs": False, "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0},
    "SecurityOpt": None, "ShmSize": 67108864, "UTSMode": "", "Ulimits": [],
    "UsernsMode": "", "VolumeDriver": "", "VolumesFrom": None}


V2 = os.path.exists("/sys/fs/cgroup/cgroup.controllers")


def host_config(d: Darsed, name: str) -> dict:
    status, out = d.api("GET", f"/containers/{name}/json")
    assert status == 200, out
    return json.loads(out)["HostConfig"]


def test_hostconfig_complete_with_dockerd_defaults(docker: Darsed) -> None:
    assert docker.docker("run", "-d", "--name", "hc-cli", "busybox", "sleep", "100"
                         ).returncode == 0
    assert darse(docker, "run", "-d", "--name", "hc-darse", "busybox", "sleep", "100"
                 ).returncode == 0
    status, _ = docker.api("POST", "/containers/create?name=hc-api",
                           {"Image": "busybox", "Cmd": ["true"]})
    assert status == 201
    try:
        for name in ("hc-cli", "hc-darse", "hc-api"):
            hc = host_config(docker, name)
            assert DOCKERD_FIELDS <= set(hc), (name, DOCKERD_FIELDS - set(hc))
            differ = {k: hc[k] for k, v in DOCKERD_DEFAULTS.items() if hc[k] != v}
            assert differ == {}, name
            assert hc["Runtime"] == "runc" and "/proc/kcore" in hc["MaskedPaths"]
            assert hc["CgroupnsMode"] == ("private" if V2 else "host")  # dockerd's default
        # ps's summary too, and the container is on the bridge all the same.
        summary = {c["Names"][0]: c for c in json.loads(docker.api(
            "GET", "/containers/json?all=1")[1])}
        assert summary["/hc-cli"]["HostConfig"] == {"NetworkMode": "default"}
        assert list(summary["/hc-cli"]["NetworkSettings"]["Networks"]) == ["bridge"]
    finally:
        docker.docker("rm", "-f", "hc-cli", "hc-darse", "hc-api")


def test_hostconfig_privileged_and_unlimited(docker: Darsed) -> None:
    status, out = docker.api("POST", "/containers/create?name=hc-priv", {
        "Image": "busybox", "Cmd": ["true"], "HostConfig": {
            "Privileged": True, "PidsLimit": -1, "MemorySwappiness": -1, "ShmSize": 0}})
    assert status == 201, out
    try:
        hc = host_config(docker, "hc-priv")
        # dockerd: no masked or read-only paths for a privileged container; "no limit"
        # and "the kernel's swappiness" shown as null; the default shm size.
        assert (hc["MaskedPaths"], hc["ReadonlyPaths"], hc["PidsLimit"],
                hc["MemorySwappiness"], hc["ShmSize"]) == (None, None, None, None, 67108864)
    finally:
        docker.docker("rm", "-f", "hc-priv")


def test_cgroup_namespace_as_recorded(docker: Darsed) -> None:
    """The namespace a container gets is the one its record says (the host's under v1,
    as dockerd's default; --cgroupns private gives it its own)."""
    host = os.readlink("/proc/self/ns/cgroup")
    for flags, mode in (([], "private" if V2 else "host"), (["--cgroupns", "private"],
                                                            "private")):
        done = docker.docker("run", "--rm", *flags, "busybox", "readlink",
                             "/proc/self/ns/cgroup")
        assert done.returncode == 0, done.stderr
        assert (done.stdout.strip() == host) == (mode == "host"), (flags, done.stdout)


def test_runtime_names(docker: Darsed) -> None:
    """runc, Docker's name for its default runtime, runs on darse-runtime (info says so);
    an unknown runtime is refused in dockerd's words and nothing is made."""
    done = docker.docker("run", "--rm", "--runtime", "runc", "--network", "none", "busybox",
                         "echo", "ran")
    assert (done.returncode, done.stdout) == (0, "ran\n"), done.stderr
    cid = docker.docker("create", "--runtime", "runc", "busybox").stdout.strip()
    try:
        assert docker.docker("inspect", "-f", "{{.HostConfig.Runtime}}", cid).stdout == "runc\n"
    finally:
        docker.docker("rm", cid)
    runtimes = docker.docker("info", "-f", "{{json .Runtimes}} {{.DefaultRuntime}}").stdout
    assert '"runc":{"path":"darse-runtime"}' in runtimes and runtimes.endswith(" runc\n")
    done = docker.docker("create", "--runtime", "nope", "busybox")
    assert done.returncode == 1
    assert done.stderr == "Error response from daemon: unknown or invalid runtime name: nope\n"
    assert docker.docker("ps", "-aq").stdout == ""
