"""Networking costs of darse (docker is not run here: its bridge and iptables rules
would set the host's FORWARD policy to DROP):

- HTTP transfer of a 200 MB file from a container (busybox httpd), through a published
  port on 127.0.0.1 versus straight to the container's address (docker goes through
  its userland proxy for 127.0.0.1; darse's DNAT stays in the kernel);
- `run --rm busybox true` latency with the default bridge versus --network none;
- `run -d -p PORT:80` (and its `rm -f`) with no port published, then with 200 published
  (20 containers of 10) and 100 user-defined networks, and the transfer again under that
  load: a published port should cost the same however many others there are.

    sudo /opt/darse/venv/bin/python bench/network.py [-n 10] [--ports 200] [--networks 100]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.engine import (  # noqa: E402
    Engine,
    busybox_tarball,
    import_busybox,
    print_results,
    start_darse,
    stop,
)

VENV_BIN = os.path.dirname(sys.executable)
SIZE = 200 * 1024 * 1024


_GIVEN: set[int] = set()


def free_port() -> int:
    """A port nothing listens on, never one handed out before: darse publishes a port
    without a listening socket (its DNAT is in the kernel), so the kernel would hand
    one of them out again (200 of 28000 collide about one run in two)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _GIVEN:
            _GIVEN.add(port)
            return port


def fetch_mbps(url: str) -> float:
    t0 = time.perf_counter()
    total = 0
    with urllib.request.urlopen(url, timeout=30) as r:
        while chunk := r.read(1 << 20):
            total += len(chunk)
    return total / (time.perf_counter() - t0) / 1e6


def transfer(e: Engine, www: Path, out: dict[str, str], label: str = ""
             ) -> tuple[float, float]:
    """(direct, published) MB/s, medians of 3 fetches of www/big."""
    port = free_port()
    cid = e.run("run", "-d", "-p", f"{port}:80", "-v", f"{www}:/www", "busybox", "httpd",
                "-f", "-p", "80", "-h", "/www").stdout.strip()
    info = json.loads(e.run("inspect", cid).stdout)[0]["NetworkSettings"]
    ip = info["IPAddress"] or next(iter(info["Networks"].values()))["IPAddress"]
    time.sleep(0.5)
    direct = statistics.median(fetch_mbps(f"http://{ip}/big") for _ in range(3))
    published = statistics.median(fetch_mbps(f"http://127.0.0.1:{port}/big") for _ in range(3))
    out[f"direct to the container{label}"] = f"{direct:.0f} MB/s"
    out[f"through 127.0.0.1:port{label}"] = \
        f"{published:.0f} MB/s ({published / direct:.0%} of direct)"
    e.run("rm", "-f", cid)
    return direct, published


def run_p(e: Engine, n: int, out: dict[str, str], label: str) -> tuple[float, float]:
    """`run -d -p PORT:80` latency (the start of a container with a published port), and
    the `rm -f` that takes the port back: medians in ms."""
    starts, removes = [], []
    for _ in range(n + 1):
        t0 = time.perf_counter()
        cid = e.run("run", "-d", "-p", f"{free_port()}:80", "busybox", "sleep",
                    "1000").stdout.strip()
        starts.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        e.run("rm", "-f", cid)
        removes.append(time.perf_counter() - t0)
    out[f"run -d -p, {label}"] = f"{statistics.median(starts[1:]) * 1000:.0f} ms"
    out[f"rm -f of it, {label}"] = f"{statistics.median(removes[1:]) * 1000:.0f} ms"
    return statistics.median(starts[1:]) * 1000, statistics.median(removes[1:]) * 1000


def load(e: Engine, ports: int, networks: int, subnet: str = "10.236.{}.0/24") -> list[str]:
    """`networks` user-defined networks, and `ports` published ports, 10 a container."""
    for i in range(networks):
        e.run("network", "create", "--subnet", subnet.format(i), f"dzbnet{i}")
    ids = []
    for first in range(0, ports, 10):
        flags = [a for i in range(first, min(first + 10, ports))
                 for a in ("-p", f"{free_port()}:{80 + i}")]
        ids.append(e.run("run", "-d", *flags, "busybox", "sleep", "100000").stdout.strip())
    return ids


def measure(e: Engine, n: int, tarball: Path, www: Path, ports: int, networks: int
            ) -> dict[str, str]:
    import_busybox(e, tarball)
    out: dict[str, str] = {}
    transfer(e, www, out)
    for mode in ("bridge", "none"):
        e.run("run", "--rm", "--network", mode, "busybox", "true")
        samples = []
        for _ in range(n):
            t0 = time.perf_counter()
            e.run("run", "--rm", "--network", mode, "busybox", "true")
            samples.append(time.perf_counter() - t0)
        out[f"run --rm --network {mode}"] = f"{statistics.median(samples) * 1000:.0f} ms"
    run_p(e, n, out, "none published")
    ids = load(e, ports, networks)
    label = f"{ports} published, {networks} networks"
    run_p(e, n, out, label)
    transfer(e, www, out, f" ({label})")
    for cid in ids:
        e.run("rm", "-f", cid)
    for i in range(networks):
        e.run("network", "rm", f"dzbnet{i}")
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("-n", type=int, default=10)
    p.add_argument("--ports", type=int, default=200)
    p.add_argument("--networks", type=int, default=100)
    args = p.parse_args()
    base = Path(tempfile.mkdtemp(prefix="darse-bench-net-", dir="/var/lib"))
    procs = []
    try:
        tarball = busybox_tarball(base)
        www = base / "www"
        www.mkdir()
        with open(www / "big", "wb") as f:
            f.write(os.urandom(SIZE))
        d, proc = start_darse(base / "darse", "dzbench0", "10.249.0.1/24")
        procs.append(proc)
        print_results({"darse": measure(d, args.n, tarball, www, args.ports, args.networks)})
    finally:
        stop(procs, base)

if __name__ == "__main__":
    main()
