"""The OCI runtime spec of a container, from Docker's Config and HostConfig.

Docker's defaults, as a docker user finds them inside a container: 14 capabilities,
the default seccomp profile, masked and read-only /proc and /sys paths, a 64 MB
/dev/shm, /etc/hostname, /etc/hosts and /etc/resolv.conf bound from the container's
directory.
"""

from __future__ import annotations

import json
import os
from typing import Any

from darse.errors import InvalidArgument
from darse.runtime import capabilities, seccomp
from darse.runtime.spec import OCI_VERSION

DEFAULT_CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
                "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
                "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"]
MASKED_PATHS = ["/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys",
                "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
                "/sys/devices/virtual/powercap"]
READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Debian ships Docker's default profile in this format (containers-common): darse loads
# it rather than carrying a copy, and converts it for each container's capabilities.
DEFAULT_SECCOMP_PROFILE = "/usr/share/containers/seccomp.json"


def capability_list(host_config: dict[str, Any]) -> list[str]:
    if host_config.get("Privileged"):
        return capabilities.NAMES[:capabilities.last_cap() + 1]
    caps = list(DEFAULT_CAPS)

    def norm(name: str) -> str:
        name = name.upper()
        return name if name.startswith("CAP_") else "CAP_" + name

    adds = [norm(c) for c in host_config.get("CapAdd") or []]
    drops = [norm(c) for c in host_config.get("CapDrop") or []]
    for name in adds + drops:
        if name != "CAP_ALL" and name not in capabilities.NUMBERS:
            raise InvalidArgument(f"invalid capability: {name}")
    if "CAP_ALL" in drops:
        caps = []
    caps = [c for c in caps if c not in drops]
    if "CAP_ALL" in adds:
        return capabilities.NAMES[:capabilities.last_cap() + 1]
    caps += [c for c in adds if c not in caps]
    return caps


def seccomp_profile(host_config: dict[str, Any], caps: list[str]) -> dict[str, Any] | None:
    opts = host_config.get("SecurityOpt") or []
    custom = None
    for opt in opts:
        key, _, value = opt.replace(":", "=", 1).partition("=")
        if key == "seccomp":
            custom = value
    if host_config.get("Privileged") or custom == "unconfined":
        return None
    if custom:
        try:
            profile = json.loads(custom)
        except ValueError:
            try:
                with open(custom) as f:
                    profile = json.load(f)
            except (OSError, ValueError) as exc:
                raise InvalidArgument(f"opening seccomp profile ({custom}) failed: "
                                      f"{exc}") from None
    elif os.path.exists(DEFAULT_SECCOMP_PROFILE):
        with open(DEFAULT_SECCOMP_PROFILE) as f:
            profile = json.load(f)
    else:
        return None
    return seccomp.from_docker(profile, caps)


def build(*, container_id: str, config: dict[str, Any], host_config: dict[str, Any],
          rootfs: str, container_dir: str, args: list[str], env: list[str],
          user: dict[str, Any], netns: str | None,
          extra_mounts: list[dict[str, Any]] = ()) -> dict[str, Any]:
    """The config.json of the container's bundle."""
    privileged = bool(host_config.get("Privileged"))
    caps = capability_list(host_config)
    cap_sets = {k: caps for k in ("bounding", "effective", "permitted")}
    nnp = any(o.replace(":", "=").split("=")[0] == "no-new-privileges"
              and not o.endswith("false") for o in host_config.get("SecurityOpt") or [])
    shm_size = host_config.get("ShmSize") or 64 * 1024 * 1024
    ro_sys = [] if privileged else ["ro"]
    mounts = [
        {"destination": "/proc", "type": "proc", "source": "proc",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs",
         "options": ["nosuid", "noexec", "nodev", *ro_sys]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["nosuid", "noexec", "nodev", "relatime", *ro_sys]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "noexec", "nodev", "mode=1777", f"size={shm_size}"]},
    ]
    for name in ("resolv.conf", "hostname", "hosts"):
        mounts.append({"destination": f"/etc/{name}", "type": "bind",
                       "source": os.path.join(container_dir, name),
                       "options": ["rbind", "rprivate"]})
    # Users' mounts after the defaults, parents before children.
    mounts += sorted(extra_mounts, key=lambda m: m["destination"].rstrip("/").count("/"))
    namespaces = [{"type": t} for t in ("pid", "ipc", "uts", "mount", "cgroup")]
    if netns is None:
        namespaces.append({"type": "network"})
    elif netns != "host":
        namespaces.append({"type": "network", "path": netns})
    if host_config.get("NetworkMode") == "host" and netns == "host" and not privileged:
        # The host's network namespace: its sysfs cannot be mounted anew.
        mounts[3] = {"destination": "/sys", "type": "bind", "source": "/sys",
                     "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]}
    resources: dict[str, Any] = {"devices": [{"allow": privileged, "access": "rwm"}]}
    if host_config.get("Memory"):
        resources["memory"] = {"limit": host_config["Memory"]}
        if host_config.get("MemorySwap"):
            resources["memory"]["swap"] = host_config["MemorySwap"]
    cpu: dict[str, Any] = {}
    if host_config.get("CpuShares"):
        cpu["shares"] = host_config["CpuShares"]
    if host_config.get("NanoCpus"):
        cpu["period"], cpu["quota"] = 100000, host_config["NanoCpus"] * 100000 // 10**9
    if host_config.get("CpuQuota"):
        cpu["quota"] = host_config["CpuQuota"]
    if host_config.get("CpuPeriod"):
        cpu["period"] = host_config["CpuPeriod"]
    if host_config.get("CpusetCpus"):
        cpu["cpus"] = host_config["CpusetCpus"]
    if cpu:
        resources["cpu"] = cpu
    if host_config.get("PidsLimit"):
        resources["pids"] = {"limit": host_config["PidsLimit"]}
    process = {
        "terminal": bool(config.get("Tty")),
        "user": user,
        "args": args,
        "env": env,
        "cwd": config.get("WorkingDir") or "/",
        "capabilities": {**cap_sets, "inheritable": [], "ambient": []},
        "noNewPrivileges": nnp,
        "oomScoreAdj": host_config.get("OomScoreAdj") or 0,
    }
    if not process["oomScoreAdj"]:
        process.pop("oomScoreAdj")
    spec: dict[str, Any] = {
        "ociVersion": OCI_VERSION,
        "process": process,
        "root": {"path": rootfs, "readonly": bool(host_config.get("ReadonlyRootfs"))},
        "hostname": config.get("Hostname") or container_id[:12],
        "mounts": mounts,
        "linux": {
            "namespaces": namespaces,
            "resources": resources,
            "cgroupsPath": f"/darse/{container_id}",
            "maskedPaths": [] if privileged else MASKED_PATHS,
            "readonlyPaths": [] if privileged else READONLY_PATHS,
            "sysctl": host_config.get("Sysctls") or {},
        },
    }
    if config.get("Domainname"):
        spec["domainname"] = config["Domainname"]
    profile = seccomp_profile(host_config, caps)
    if profile is not None:
        spec["linux"]["seccomp"] = profile
    return spec
