"""run/create flags beyond the first ones (container.py parses those): healthchecks and
the rest, checked as the docker CLI checks them, in its words, and put in the request."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from darse.cli import Parser
    from darse.cli.flags import Namespace

_UNITS = {"ns": 1, "us": 10**3, "µs": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9,
          "h": 3600 * 10**9}


class RunFlagError(Exception):
    """A flag value the docker CLI refuses before talking to the daemon (its words)."""


def go_duration(text: str) -> int:
    """Nanoseconds of a Go duration ("1m30s", "500ms", "-2s"), as Go's ParseDuration."""
    s, total, sign = text, 0.0, 1
    if s[:1] in ("-", "+"):
        sign, s = (-1 if s[0] == "-" else 1), s[1:]
    if s == "0":
        return 0
    if not s:
        raise _bad_duration(text)
    while s:
        i = 0
        while i < len(s) and (s[i].isdigit() or s[i] == "."):
            i += 1
        number, s = s[:i], s[i:]
        j = 0
        while j < len(s) and not (s[j].isdigit() or s[j] == "."):
            j += 1
        unit, s = s[:j], s[j:]
        if not number or number == "." or number.count(".") > 1 or \
                int(number.partition(".")[0] or 0) >= 1 << 63:
            raise _bad_duration(text)
        if not unit:
            exc = _bad_duration(text)
            exc.flag_detail = f'time: missing unit in duration "{text}"'
            raise exc
        if unit not in _UNITS:
            exc = _bad_duration(text)
            exc.flag_detail = f'time: unknown unit "{unit}" in duration "{text}"'
            raise exc
        total += float(number) * _UNITS[unit]
    return sign * int(total)


def _bad_duration(text: str) -> ValueError:
    exc = ValueError(text)
    exc.flag_detail = f'time: invalid duration "{text}"'
    return exc


def _ram(text: str) -> int:
    from darse.cli.flagtypes import ram_bytes

    return ram_bytes(text)


def add(p: Parser) -> None:
    from darse.cli import flagtypes

    for flag in ("--cpu-period", "--cpu-quota", "--cpu-rt-period", "--cpu-rt-runtime",
                 "--oom-score-adj"):
        p.add_argument(flag, type=flagtypes.int64, default=0)
    p.add_argument("--blkio-weight", type=flagtypes.uint16, default=0)
    p.add_argument("--memory-swappiness", type=flagtypes.int64, default=-1)
    for flag in ("--memory-reservation", "--kernel-memory"):
        p.add_argument(flag, type=flagtypes.ram_bytes, default=0)
    p.add_argument("--memory-swap", type=flagtypes.ram_or_unlimited, default=0)
    for flag in ("--cpuset-cpus", "--cpuset-mems", "--cgroup-parent", "--cidfile",
                 "--volume-driver", "--log-driver", "--pid", "--ipc", "--uts", "--userns",
                 "--cgroupns", "--isolation", "--gpus", "--mac-address", "--ip6"):
        p.add_argument(flag, default="")
    for flag in ("--blkio-weight-device", "--device-read-bps", "--device-write-bps",
                 "--device-read-iops", "--device-write-iops", "--ulimit", "--label-file",
                 "--storage-opt", "--link", "--link-local-ip"):
        p.add_argument(flag, action="append", default=[])
    p.add_argument("--oom-kill-disable", action="store_true")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("--disable-content-trust", action="store_true", default=True)
    p.add_argument("--health-cmd")
    p.add_argument("--health-interval", type=go_duration, default=0)
    p.add_argument("--health-timeout", type=go_duration, default=0)
    p.add_argument("--health-start-period", type=go_duration, default=0)
    p.add_argument("--health-retries", type=flagtypes.int64, default=0)
    p.add_argument("--no-healthcheck", action="store_true")


def apply(args: Namespace, config: dict[str, Any], host: dict[str, Any]) -> None:
    """These flags into the create request; RunFlagError as the docker CLI refuses."""
    _health(args, config)
    _resources(args, host)
    _modes(args, host)
    if args.label_file:
        labels = {}
        for path in args.label_file:
            for key, value in _lines(path):
                labels[key] = value
        labels.update(config.get("Labels") or {})
        config["Labels"] = labels
    if args.log_driver:
        host.setdefault("LogConfig", {"Config": {}})["Type"] = args.log_driver
    for flag, key in ((args.cgroup_parent, "CgroupParent"), (args.cidfile, "ContainerIDFile"),
                      (args.volume_driver, "VolumeDriver"), (args.isolation, "Isolation")):
        if flag:
            host[key] = flag
    if args.storage_opt:
        opts = {}
        for opt in args.storage_opt:
            key, eq, value = opt.partition("=")
            if not eq:
                raise RunFlagError("invalid storage option")
            opts[key] = value
        host["StorageOpt"] = opts
    if args.gpus:
        host["DeviceRequests"] = [_gpus(args.gpus)]
    if args.link:
        # The docker CLI's form: NAME is NAME:NAME.
        host["Links"] = [x if ":" in x else f"{x}:{x}" for x in args.link]
    if args.mac_address:
        parts = args.mac_address.split(":")
        if len(parts) != 6 or not all(len(p) == 2 and all(c in "0123456789abcdefABCDEF"
                                                            for c in p) for p in parts):
            raise RunFlagError(f"{args.mac_address} is not a valid mac address")
        config["MacAddress"] = args.mac_address
    if args.ip6 or args.link_local_ip:
        # the first network's endpoint, beside what --ip and --network-alias put there
        endpoints = config.setdefault("NetworkingConfig", {}).setdefault("EndpointsConfig", {})
        ep = endpoints.setdefault(next(iter(endpoints), args.network or "bridge"), {})
        ipam = ep.setdefault("IPAMConfig", {})
        if args.ip6:
            ipam["IPv6Address"] = args.ip6
        if args.link_local_ip:
            ipam["LinkLocalIPs"] = args.link_local_ip
    for key in _NULL_WHEN_EMPTY:
        if key in host and not host[key]:
            host[key] = None


# Lists the docker CLI sends as null when no flag gave them (dockerd shows them so).
_NULL_WHEN_EMPTY = ("Binds", "CapAdd", "CapDrop", "DeviceCgroupRules", "ExtraHosts",
                    "VolumesFrom", "SecurityOpt", "Links")


def _health(args: Namespace, config: dict[str, Any]) -> None:
    durations = (("interval", args.health_interval), ("timeout", args.health_timeout),
                 ("start-period", args.health_start_period))
    given = bool(args.health_cmd) or any(v for _, v in durations) or bool(args.health_retries)
    if args.no_healthcheck:
        if given:
            raise RunFlagError("--no-healthcheck conflicts with --health-* options")
        config["Healthcheck"] = {"Test": ["NONE"]}
        return
    if not given:
        return
    for name, value in durations[:2]:
        if value < 0:
            raise RunFlagError(f"--health-{name} cannot be negative")
    if args.health_retries < 0:
        raise RunFlagError("--health-retries cannot be negative")
    if args.health_start_period < 0:
        raise RunFlagError("--health-start-period cannot be negative")
    config["Healthcheck"] = {
        "Test": ["CMD-SHELL", args.health_cmd] if args.health_cmd else None,
        "Interval": args.health_interval, "Timeout": args.health_timeout,
        "StartPeriod": args.health_start_period, "Retries": args.health_retries}


def key_value_file(path: str, from_env: bool = False) -> list[str]:
    """KEY=VALUE lines of an --env-file or --label-file, as the docker CLI reads them:
    leading blanks and # comments skipped, the value passed through untouched; a lone
    KEY takes its value from our environment (env files) or stays as it is."""
    import os

    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as exc:
        raise RunFlagError(f"open {path}: {exc.strerror[:1].lower()}{exc.strerror[1:]}"
                           ) from None
    out = []
    for number, data in enumerate(raw.split(b"\n"), 1):
        data = data.removesuffix(b"\r")
        try:
            text = data.decode()
        except UnicodeDecodeError:
            raise RunFlagError(f"env file {path} contains invalid utf8 bytes at line "
                               f"{number}: {list(data)}") from None
        line = text.removeprefix("\ufeff" if number == 1 else "").lstrip()
        if not line or line.startswith("#"):
            continue
        name, eq, value = line.partition("=")
        name = name.lstrip(" \t")
        if " " in name or "\t" in name:
            raise RunFlagError(f"poorly formatted environment: variable '{name}' contains "
                               "whitespaces")
        if not name:
            raise RunFlagError(f"poorly formatted environment: no variable name on line "
                               f"'{line}'")
        if eq:
            out.append(f"{name}={value}")
        elif from_env and line.strip() in os.environ:
            out.append(f"{line.strip()}={os.environ[line.strip()]}")
        else:
            out.append(line)
    return out


def _lines(path: str) -> list[tuple[str, str]]:
    """KEY=VALUE pairs of a --label-file."""
    return [(k, v) for k, _, v in (line.partition("=") for line in key_value_file(path))]


def _device_rate(text: str, flag: str, size: bool) -> dict[str, Any]:
    path, sep, value = text.rpartition(":")
    if not sep or not path.startswith("/dev/"):
        raise RunFlagError(f'invalid argument "{text}" for "{flag}" flag: bad format: {text}')
    try:
        rate = _ram(value) if size else int(value)
    except ValueError:
        rate = -1
    if rate < 0:
        raise RunFlagError(
            f'invalid argument "{text}" for "{flag}" flag: invalid rate for device: {text}. '
            + ("The correct format is <device-path>:<number>[<unit>]. Number must be a "
               "positive integer. Unit is optional and can be kb, mb, or gb" if size else
               "The correct format is <device-path>:<number>. Number must be a positive "
               "integer"))
    return {"Path": path, "Rate": rate}


def ulimit(text: str) -> dict[str, Any]:
    name, eq, limits = text.partition("=")
    if not eq:
        raise RunFlagError(f'invalid argument "{text}" for "--ulimit" flag: invalid ulimit '
                           f"argument: {text}")
    soft, _, hard = limits.partition(":")
    for number in (soft, hard) if hard else (soft,):
        if not number.lstrip("-").isdigit():
            raise RunFlagError(f'invalid argument "{text}" for "--ulimit" flag: '
                               f'strconv.ParseInt: parsing "{number}": invalid syntax')
    soft_n = int(soft)
    hard_n = int(hard) if hard else soft_n
    if soft_n > hard_n:
        raise RunFlagError(f'invalid argument "{text}" for "--ulimit" flag: ulimit soft '
                           f"limit must be less than or equal to hard limit: {soft_n} > "
                           f"{hard_n}")
    return {"Name": name, "Soft": soft_n, "Hard": hard_n}


def _resources(args: Namespace, host: dict[str, Any]) -> None:
    if args.memory_swappiness != -1 and not 0 <= args.memory_swappiness <= 100:
        raise RunFlagError(f"invalid value: {args.memory_swappiness}. Valid memory "
                           "swappiness range is 0-100")
    host["MemorySwappiness"] = args.memory_swappiness
    for key, value in (("CpuPeriod", args.cpu_period), ("CpuQuota", args.cpu_quota),
                       ("CpuRealtimePeriod", args.cpu_rt_period),
                       ("CpuRealtimeRuntime", args.cpu_rt_runtime),
                       ("BlkioWeight", args.blkio_weight), ("OomScoreAdj", args.oom_score_adj),
                       ("MemoryReservation", args.memory_reservation),
                       ("KernelMemory", args.kernel_memory),
                       ("CpusetCpus", args.cpuset_cpus), ("CpusetMems", args.cpuset_mems)):
        if value:
            host[key] = value
    if args.memory_swap:
        host["MemorySwap"] = args.memory_swap
    if args.oom_kill_disable:
        host["OomKillDisable"] = True
    weights = []
    for text in args.blkio_weight_device:
        path, sep, weight = text.rpartition(":")
        if not sep or not path.startswith("/dev/") or not weight.isdigit():
            raise RunFlagError(f'invalid argument "{text}" for "--blkio-weight-device" flag: '
                               f"bad format: {text}")
        weights.append({"Path": path, "Weight": int(weight)})
    host["BlkioWeightDevice"] = weights
    for key, flag, values, size in (
            ("BlkioDeviceReadBps", "--device-read-bps", args.device_read_bps, True),
            ("BlkioDeviceWriteBps", "--device-write-bps", args.device_write_bps, True),
            ("BlkioDeviceReadIOps", "--device-read-iops", args.device_read_iops, False),
            ("BlkioDeviceWriteIOps", "--device-write-iops", args.device_write_iops, False)):
        host[key] = [_device_rate(v, flag, size) for v in values]
    host["Ulimits"] = [ulimit(u) for u in args.ulimit] or None


def _modes(args: Namespace, host: dict[str, Any]) -> None:
    for flag, key in (("pid", "PidMode"), ("ipc", "IpcMode"), ("uts", "UTSMode"),
                      ("userns", "UsernsMode"), ("cgroupns", "CgroupnsMode")):
        value = getattr(args, flag)
        if value:
            host[key] = value
    # The docker CLI's own checks (the IPC mode is the daemon's to check).
    if args.cgroupns and args.cgroupns not in ("host", "private"):
        raise RunFlagError("--cgroupns: invalid CGROUP mode")
    if args.pid and args.pid != "host" and not args.pid.startswith("container:"):
        raise RunFlagError("--pid: invalid PID mode")
    if args.uts and args.uts != "host":
        raise RunFlagError("--uts: invalid UTS mode")
    if args.userns and args.userns != "host":
        raise RunFlagError("--userns: invalid USER mode")


def _gpus(text: str) -> dict[str, Any]:
    """--gpus all|N|device=...: a device request for the gpu capability, as the CLI."""
    request: dict[str, Any] = {"Driver": "", "Count": 0, "DeviceIDs": None,
                               "Capabilities": [["gpu"]], "Options": {}}
    for part in text.split(","):
        key, eq, value = part.partition("=")
        if not eq:
            value, key = key, "count"
        if key == "count":
            if value != "all" and not value.lstrip("+-").isdigit():
                raise RunFlagError(f'invalid argument "{text}" for "--gpus" flag: count must '
                                   f'be an integer: strconv.Atoi: parsing "{value}": invalid '
                                   "syntax")
            request["Count"] = -1 if value == "all" else int(value)
        elif key == "device":
            request["DeviceIDs"] = value.split(",")
        elif key == "driver":
            request["Driver"] = value
        elif key == "capabilities":
            request["Capabilities"] = [value.split(",")]
    return request


def check_cidfile(args: Namespace) -> None:
    """Before the create: a --cidfile that exists is refused (another run may own it)."""
    if not args.cidfile:
        return
    import os  # 1.5 ms: only for a --cidfile

    if os.path.exists(args.cidfile):
        raise RunFlagError("container ID file found, make sure the other container isn't "
                           f"running or delete {args.cidfile}")


def write_cidfile(args: Namespace, container_id: str) -> None:
    if args.cidfile:
        try:
            with open(args.cidfile, "x") as f:
                f.write(container_id)
        except OSError as exc:
            raise RunFlagError(f"failed to create the container ID file: {exc}") from None
