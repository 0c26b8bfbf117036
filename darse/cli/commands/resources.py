"""darse update and darse stats: a container's resource limits, and what it uses."""

from __future__ import annotations

import sys

from darse.cli import Parser
from darse.cli.client import APIError, Client

TYPE_CHECKING = False  # typing costs milliseconds on every command
if TYPE_CHECKING:
    from typing import Any

_UNITS = {"b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4, "p": 1024**5}


def update(client: Client, argv: list[str]) -> int:
    p = Parser(prog="darse update")
    from darse.cli import flagtypes

    for flag in ("--cpu-period", "--cpu-quota", "--cpu-rt-period", "--cpu-rt-runtime",
                 "--pids-limit"):
        p.add_argument(flag, type=flagtypes.int64)
    p.add_argument("--blkio-weight", type=flagtypes.uint16)
    p.add_argument("-c", "--cpu-shares", type=flagtypes.int64)
    p.add_argument("--cpus", type=flagtypes.nano_cpus)
    p.add_argument("--cpuset-cpus")
    p.add_argument("--cpuset-mems")
    for flag in ("--kernel-memory", "--memory-reservation"):
        p.add_argument(flag, type=flagtypes.ram_bytes)
    p.add_argument("--memory-swap", type=flagtypes.ram_or_unlimited)
    p.add_argument("-m", "--memory", type=flagtypes.ram_bytes)
    p.add_argument("--restart")
    p.add_argument("containers", nargs="+")
    args = p.parse_args(argv)
    body: dict[str, Any] = {}
    for key, value in (("Memory", args.memory), ("MemorySwap", args.memory_swap),
                       ("MemoryReservation", args.memory_reservation),
                       ("KernelMemory", args.kernel_memory)):
        if value is not None:
            body[key] = value
    for key, value in (("BlkioWeight", args.blkio_weight), ("CpuPeriod", args.cpu_period),
                       ("CpuQuota", args.cpu_quota), ("CpuRealtimePeriod", args.cpu_rt_period),
                       ("CpuRealtimeRuntime", args.cpu_rt_runtime),
                       ("CpuShares", args.cpu_shares), ("CpusetCpus", args.cpuset_cpus),
                       ("CpusetMems", args.cpuset_mems), ("PidsLimit", args.pids_limit)):
        if value is not None:
            body[key] = value
    if args.cpus is not None:
        body["NanoCpus"] = args.cpus
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
            print(exc.shown, file=sys.stderr)
            code = 1
    return code


# --- stats ---------------------------------------------------------------------------


def bytes_size(n: float) -> str:
    """go-units' BytesSize: binary units, 4 significant digits."""
    units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
    i = 0
    while n >= 1024 and i < len(units) - 1:
        n /= 1024
        i += 1
    return f"{n:.4g}{units[i]}"


def row_of(s: dict[str, Any], no_trunc: bool = False) -> dict[str, str]:
    """The docker CLI's figures for one stats record."""
    from darse.units import human_size

    cpu, pre = s.get("cpu_stats") or {}, s.get("precpu_stats") or {}
    cpu_delta = (cpu.get("cpu_usage") or {}).get("total_usage", 0) - \
        (pre.get("cpu_usage") or {}).get("total_usage", 0)
    system_delta = cpu.get("system_cpu_usage", 0) - pre.get("system_cpu_usage", 0)
    online = cpu.get("online_cpus") or len((cpu.get("cpu_usage") or {}).get("percpu_usage")
                                           or [])
    cpu_percent = cpu_delta / system_delta * online * 100 if system_delta > 0 and \
        cpu_delta > 0 else 0.0
    mem = s.get("memory_stats") or {}
    usage, stats = mem.get("usage", 0), mem.get("stats") or {}
    for key in ("total_inactive_file", "inactive_file"):  # cgroup v1, v2
        if key in stats and stats[key] < usage:
            usage -= stats[key]
            break
    limit = mem.get("limit", 0)
    rx = tx = 0
    for net in (s.get("networks") or {}).values():
        rx, tx = rx + net.get("rx_bytes", 0), tx + net.get("tx_bytes", 0)
    read = write = 0
    for entry in (s.get("blkio_stats") or {}).get("io_service_bytes_recursive") or []:
        op = entry.get("op", "").lower()
        if op == "read":
            read += entry.get("value", 0)
        elif op == "write":
            write += entry.get("value", 0)
    cid = s.get("id", "")
    return {"ID": cid if no_trunc else cid[:12], "Container": cid if no_trunc else cid[:12],
            "Name": s.get("name", "").lstrip("/"), "CPUPerc": f"{cpu_percent:.2f}%",
            "MemUsage": f"{bytes_size(usage)} / {bytes_size(limit)}",
            "MemPerc": f"{usage / limit * 100 if limit else 0:.2f}%",
            "NetIO": f"{human_size(rx)} / {human_size(tx)}",
            "BlockIO": f"{human_size(read)} / {human_size(write)}",
            "PIDs": str((s.get("pids_stats") or {}).get("current", 0))}


COLUMNS = [("CONTAINER ID", "ID"), ("NAME", "Name"), ("CPU %", "CPUPerc"),
           ("MEM USAGE / LIMIT", "MemUsage"), ("MEM %", "MemPerc"), ("NET I/O", "NetIO"),
           ("BLOCK I/O", "BlockIO"), ("PIDS", "PIDs")]


def _render(rows: list[dict[str, str]], fmt: str | None) -> str:
    import io

    from darse.cli.output import render

    out = io.StringIO()
    real, sys.stdout = sys.stdout, out
    try:
        render(fmt, COLUMNS, rows)
    finally:
        sys.stdout = real
    return out.getvalue()


class _Feed:
    """One container's stats stream, read in a thread; the latest record kept."""

    def __init__(self, client: Client, ref: str) -> None:
        import threading

        self.ref, self.latest, self.error = ref, None, None
        self.thread = threading.Thread(target=self._run, args=(client,), daemon=True)
        self.thread.start()

    def _run(self, client: Client) -> None:
        try:
            for record in client.lines("GET", f"/containers/{self.ref}/stats",
                                       {"stream": True}):
                self.latest = record
        except APIError as exc:
            self.error = exc
        except OSError:
            pass


def stats(client: Client, argv: list[str]) -> int:
    p = Parser(prog="darse stats")
    p.add_argument("-a", "--all", action="store_true")
    p.add_argument("--format")
    p.add_argument("--no-stream", action="store_true")
    p.add_argument("--no-trunc", action="store_true")
    p.add_argument("containers", nargs="*")
    args = p.parse_args(argv)

    def listed() -> list[str]:
        return [c["Id"] for c in client.json("GET", "/containers/json", {"all": args.all})]

    if args.no_stream:
        try:  # one request for all (darsed's own endpoint, docs/design.md)
            records = client.json("GET", "/containers/stats",
                                  {"all": args.all, "containers": args.containers or None})
        except APIError as exc:
            if not exc.status:
                raise
            # Another daemon (dockerd), or a container unknown: a request each, which
            # says what is wrong with each in the daemon's words.
        else:
            sys.stdout.write(_render([row_of(s, args.no_trunc) for s in records],
                                     args.format))
            return 0
    refs = list(args.containers) or listed()
    if args.no_stream:
        import concurrent.futures

        def one(ref: str) -> dict[str, Any]:
            return client.json("GET", f"/containers/{ref}/stats", {"stream": False})

        code, rows = 0, []
        # All at once: each answer waits the daemon's window between its two readings, so
        # 64 at a time made 1000 containers take 16 windows instead of one.
        with concurrent.futures.ThreadPoolExecutor(max(1, _connections(len(refs)))) as pool:
            futures = [pool.submit(one, ref) for ref in refs]
            for future in futures:
                try:
                    rows.append(row_of(future.result(), args.no_trunc))
                except APIError as exc:
                    print(exc.shown, file=sys.stderr)
                    code = 1
        if code == 0:  # as docker: an error, and no table
            sys.stdout.write(_render(rows, args.format))
        return code
    return _live(client, refs, args, listed if not args.containers else None)


def _connections(wanted: int) -> int:
    """How many requests may be in flight: one a container, within the open files this
    process may have (raised to the hard limit: root's default soft one is 1024)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted + 64:
        soft = wanted + 64 if hard == resource.RLIM_INFINITY else min(hard, wanted + 64)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return min(wanted, soft - 64, 4096)


def _live(client: Client, refs: list[str], args: Any, listed: Any) -> int:
    """docker stats' live table: redrawn every second until interrupted."""
    import time

    feeds = {ref: _Feed(client, ref) for ref in refs}
    try:
        while True:
            time.sleep(1)
            if listed is not None:  # containers that started or went since
                current = listed()
                for ref in current:
                    if ref not in feeds:
                        feeds[ref] = _Feed(client, ref)
                feeds = {r: f for r, f in feeds.items() if r in current}
            for feed in feeds.values():
                if feed.error is not None:
                    print(f"Error response from daemon: {feed.error.message}",
                          file=sys.stderr)
                    return 1
            rows = [row_of(f.latest, args.no_trunc) for f in feeds.values()
                    if f.latest is not None]
            sys.stdout.write("\033[2J\033[H" + _render(rows, args.format))
            sys.stdout.flush()
    except KeyboardInterrupt:
        return 0
