"""darse update and darse stats: a container's resource limits, and what it uses."""

from __future__ import annotations

import sys

from darse.cli import Parser
from darse.cli.client import APIError, Client

TYPE_CHECKING = False  # typing costs milliseconds on every command
if TYPE_CHECKING:
    from typing import Any

_UNITS = {"b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4, "p": 1024**5}


def ram_in_bytes(text: str) -> int:
    """go-units' RAMInBytes: '50m', '1.5g', '1024', '-1' (binary units)."""
    t = text.strip().lower()
    if t == "-1":
        return -1
    if t.endswith("b") and len(t) > 1 and t[-2] in _UNITS:
        t = t[:-1]
    try:
        if t and t[-1] in _UNITS:
            return int(float(t[:-1]) * _UNITS[t[-1]])
        return int(t)
    except ValueError:
        raise ValueError(f"invalid size: '{text}'") from None


def update(client: Client, argv: list[str]) -> int:
    p = Parser(prog="darse update")
    for flag in ("--blkio-weight", "--cpu-period", "--cpu-quota", "--cpu-rt-period",
                 "--cpu-rt-runtime", "--pids-limit"):
        p.add_argument(flag, type=int)
    p.add_argument("-c", "--cpu-shares", type=int)
    p.add_argument("--cpus", type=float)
    p.add_argument("--cpuset-cpus")
    p.add_argument("--cpuset-mems")
    for flag in ("--kernel-memory", "--memory-reservation", "--memory-swap"):
        p.add_argument(flag)
    p.add_argument("-m", "--memory")
    p.add_argument("--restart")
    p.add_argument("containers", nargs="+")
    args = p.parse_args(argv)
    body: dict[str, Any] = {}
    try:
        for key, value in (("Memory", args.memory), ("MemorySwap", args.memory_swap),
                           ("MemoryReservation", args.memory_reservation),
                           ("KernelMemory", args.kernel_memory)):
            if value is not None:
                body[key] = ram_in_bytes(value)
    except ValueError as exc:
        p.error(f"invalid argument for flag: {exc}")
    for key, value in (("BlkioWeight", args.blkio_weight), ("CpuPeriod", args.cpu_period),
                       ("CpuQuota", args.cpu_quota), ("CpuRealtimePeriod", args.cpu_rt_period),
                       ("CpuRealtimeRuntime", args.cpu_rt_runtime),
                       ("CpuShares", args.cpu_shares), ("CpusetCpus", args.cpuset_cpus),
                       ("CpusetMems", args.cpuset_mems), ("PidsLimit", args.pids_limit)):
        if value is not None:
            body[key] = value
    if args.cpus is not None:
        body["NanoCpus"] = int(args.cpus * 1e9)
    if args.restart is not None:
        name, _, retries = args.restart.partition(":")
        body["RestartPolicy"] = {"Name": name, "MaximumRetryCount": int(retries or 0)}
    if not body:
        print("you must provide one or more flags when using this command", file=sys.stderr)
        return 1
    code = 0
    for name in args.containers:
        try:
            client.json("POST", f"/containers/{name}/update", body=body)
            print(name)
        except APIError as exc:
            print(f"Error response from daemon: {exc.message}", file=sys.stderr)
            code = 1
    return code
