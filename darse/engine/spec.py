"""The OCI runtime spec of a container, from Docker's Config and HostConfig.

Docker's defaults, as a docker user finds them inside a container: 14 capabilities,
Docker's default seccomp profile, masked and read-only /proc and /sys paths, a device
cgroup that lets it make any node but open only the default ones, a 64 MB /dev/shm,
/etc/hostname, /etc/hosts and /etc/resolv.conf bound from the container's directory.
--privileged undoes all of it: every capability and host device, no seccomp, nothing
masked, /sys and cgroups writable.
"""

from __future__ import annotations

import json
import os
from typing import Any

from darse.errors import InvalidArgument, Unavailable
from darse.runtime import capabilities, devices, seccomp_docker, sysctl
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
# moby's own default profile, as Debian ships it (golang-github-docker-docker-dev,
# installed by install.sh): darse loads it rather than carrying a copy, and resolves it
# for each container as dockerd does (docs/design.md).
DEFAULT_SECCOMP_PROFILE = ("/usr/share/gocode/src/github.com/docker/docker/profiles/seccomp/"
                           "default.json")


def capability_list(host_config: dict[str, Any]) -> list[str]:
    """The container's capabilities. "All" (--privileged, --cap-add ALL) is all the
    daemon itself may hold: a host that withholds one would refuse the container."""
    if host_config.get("Privileged"):
        return capabilities.bounding_of_self()
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
        return capabilities.bounding_of_self()
    caps += [c for c in adds if c not in caps]
    return caps


def seccomp_profile(host_config: dict[str, Any], caps: list[str]) -> dict[str, Any] | None:
    opts = host_config.get("SecurityOpt") or []
    custom = None
    for opt in opts:
        # key=value, or docker's older key:value; a profile's JSON (what the docker CLI
        # sends for seccomp=FILE) has colons of its own.
        key, _, value = opt.partition("=" if "=" in opt else ":")
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
    else:
        try:
            with open(DEFAULT_SECCOMP_PROFILE) as f:
                profile = json.load(f)
        except (OSError, ValueError) as exc:
            # Never a container without its filter: refuse rather than run unconfined.
            raise Unavailable(f"Docker's default seccomp profile is missing "
                              f"({DEFAULT_SECCOMP_PROFILE}: {exc}); install "
                              "golang-github-docker-docker-dev") from None
    return seccomp_docker.resolve(profile, caps)


def _namespaces(netns: str | None) -> list[dict[str, Any]]:
    """netns: None for a new network namespace, "host" for none, else a path to join."""
    out: list[dict[str, Any]] = [{"type": t} for t in ("pid", "ipc", "uts", "mount", "cgroup")]
    if netns is None:
        out.append({"type": "network"})
    elif netns != "host":
        out.append({"type": "network", "path": netns})
    return out


def _sysctls(host_config: dict[str, Any], namespaces: list[dict[str, Any]]) -> dict[str, str]:
    """--sysctl, refused unless the container owns the setting's namespace (runc's rule
    and words, which is where a docker user meets them)."""
    settings = {str(k): str(v) for k, v in (host_config.get("Sysctls") or {}).items()}
    sysctl.validate({"namespaces": namespaces, "sysctl": settings})
    return settings


def _devices(host_config: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(linux.devices, linux.resources.devices) as dockerd makes them: a deny-all the
    runtime completes with its defaults (mknod of anything; null, zero, ptys...), then a
    rule per --device and per --device-cgroup-rule; for --privileged every host device
    and no rule but allow-all."""
    made: list[dict[str, Any]] = []
    rules: list[dict[str, Any]] = [{"allow": False, "access": "rwm"}]
    privileged = bool(host_config.get("Privileged"))
    if privileged:
        made, rules = devices.host_devices(), [{"allow": True, "access": "rwm"}]
    for mapping in host_config.get("Devices") or []:
        host = mapping.get("PathOnHost") or ""
        inside = mapping.get("PathInContainer") or host
        access = mapping.get("CgroupPermissions") or "rwm"
        if not host or not inside.startswith("/"):
            raise InvalidArgument(f"bad format for path: {host}:{inside}")
        if not devices.valid_mode(access):
            raise InvalidArgument(f"bad mode specified: {access}")
        if privileged and host == inside:
            continue  # already there, with every host device
        nodes, allowed = devices.from_path(host, inside, access)
        made += nodes
        if not privileged:
            rules += allowed
    if not privileged:
        rules += [devices.parse_rule(r) for r in host_config.get("DeviceCgroupRules") or []]
    return made, rules


def validate(host_config: dict[str, Any]) -> None:
    """What build() would refuse, checked at create so that nothing is recorded."""
    capability_list(host_config)
    netns = "host" if host_config.get("NetworkMode") == "host" else None
    _sysctls(host_config, _namespaces(netns))
    _devices(host_config)


def build(*, container_id: str, config: dict[str, Any], host_config: dict[str, Any],
          rootfs: str, container_dir: str, args: list[str], env: list[str],
          user: dict[str, Any], netns: str | None,
          extra_mounts: list[dict[str, Any]] = ()) -> dict[str, Any]:
    """The config.json of the container's bundle."""
    privileged = bool(host_config.get("Privileged"))
    caps = capability_list(host_config)
    # As dockerd (oci.SetCapabilities): a user other than root starts with the bounding
    # set only, as execve would leave it.
    cap_sets = {"bounding": caps, "effective": caps if user.get("uid", 0) == 0 else [],
                "permitted": caps if user.get("uid", 0) == 0 else []}
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
    namespaces = _namespaces(netns)
    if host_config.get("NetworkMode") == "host" and netns == "host" and not privileged:
        # The host's network namespace: its sysfs cannot be mounted anew.
        mounts[3] = {"destination": "/sys", "type": "bind", "source": "/sys",
                     "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]}
    linux_devices, device_rules = _devices(host_config)
    resources: dict[str, Any] = {"devices": device_rules}
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
            "devices": linux_devices,
            "sysctl": _sysctls(host_config, namespaces),
        },
    }
    if config.get("Domainname"):
        spec["domainname"] = config["Domainname"]
    profile = seccomp_profile(host_config, caps)
    if profile is not None:
        spec["linux"]["seccomp"] = profile
    return spec
