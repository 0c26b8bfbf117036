"""Networking costs, side by side with docker when dockerd is installed:

- HTTP transfer of a 200 MB file from a container (busybox httpd), through a published
  port on 127.0.0.1 versus straight to the container's address (docker goes through
  its userland proxy for 127.0.0.1; darse's DNAT stays in the kernel);
- `run --rm busybox true` latency with the default bridge versus --network none.

    sudo /opt/darse/venv/bin/python bench/network.py [-n 10]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.engine import Engine, start_docker  # noqa: E402
from darse.image.busybox import make_rootfs  # noqa: E402
from tests.ocilayout import tar_of_dir  # noqa: E402

VENV_BIN = os.path.dirname(sys.executable)
SIZE = 200 * 1024 * 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fetch_mbps(url: str) -> float:
    t0 = time.perf_counter()
    total = 0
    with urllib.request.urlopen(url, timeout=30) as r:
        while chunk := r.read(1 << 20):
            total += len(chunk)
    return total / (time.perf_counter() - t0) / 1e6


def start_darse(base: Path) -> tuple[Engine, subprocess.Popen]:
    sock = base / "darse.sock"
    base.mkdir(parents=True, exist_ok=True)
    (base / "daemon.json").write_text(json.dumps({"bridge": "dzbench0",
                                                  "bip": "10.249.0.1/24"}))
    proc = subprocess.Popen([f"{VENV_BIN}/darsed", "-H", f"unix://{sock}", "--data-root",
                             str(base / "data"), "--exec-root", str(base / "exec"),
                             "--config-file", str(base / "daemon.json"), "--cleanup"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while not sock.exists():
        time.sleep(0.05)
    time.sleep(0.3)
    return Engine("darse", [f"{VENV_BIN}/darse", "-H", f"unix://{sock}"]), proc


def measure(e: Engine, n: int, tarball: Path, www: Path) -> dict[str, str]:
    with open(tarball, "rb") as f:
        subprocess.run([*e.cli, "import", "-", "busybox:latest"], stdin=f, check=True,
                       capture_output=True)
    out = {}
    port = free_port()
    cid = e.run("run", "-d", "-p", f"{port}:80", "-v", f"{www}:/www", "busybox", "httpd",
                "-f", "-p", "80", "-h", "/www").stdout.strip()
    info = json.loads(e.run("inspect", cid).stdout)[0]["NetworkSettings"]
    ip = info["IPAddress"] or next(iter(info["Networks"].values()))["IPAddress"]
    time.sleep(0.5)
    direct = statistics.median(fetch_mbps(f"http://{ip}/big") for _ in range(3))
    published = statistics.median(fetch_mbps(f"http://127.0.0.1:{port}/big") for _ in range(3))
    out["direct to the container"] = f"{direct:.0f} MB/s"
    out["through 127.0.0.1:port"] = f"{published:.0f} MB/s ({published / direct:.0%} of direct)"
    e.run("rm", "-f", cid)
    for mode in ("bridge", "none"):
        e.run("run", "--rm", "--network", mode, "busybox", "true")
        samples = []
        for _ in range(n):
            t0 = time.perf_counter()
            e.run("run", "--rm", "--network", mode, "busybox", "true")
            samples.append(time.perf_counter() - t0)
        out[f"run --rm --network {mode}"] = f"{statistics.median(samples) * 1000:.0f} ms"
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("-n", type=int, default=10)
    n = p.parse_args().n
    base = Path(tempfile.mkdtemp(prefix="darse-bench-net-", dir="/var/lib"))
    procs = []
    try:
        rootfs = base / "rootfs"
        make_rootfs(str(rootfs))
        tarball = base / "busybox.tar"
        tarball.write_bytes(tar_of_dir(str(rootfs)))
        www = base / "www"
        www.mkdir()
        with open(www / "big", "wb") as f:
            f.write(os.urandom(SIZE))
        results = {}
        d, proc = start_darse(base / "darse")
        procs.append(proc)
        results["darse"] = measure(d, n, tarball, www)
        docker = start_docker(base / "docker") if False else None  # needs its bridge on
        if docker:
            procs.append(docker[1])
            results["docker"] = measure(docker[0], n, tarball, www)
        for name, r in results.items():
            print(f"{name}:")
            for k, v in r.items():
                print(f"  {k:28s} {v}")
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
        for pid_file in base.glob("*/exec/shim.pid"):
            try:
                os.kill(int(pid_file.read_text()), signal.SIGTERM)
            except ProcessLookupError:
                pass
        time.sleep(0.5)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
