"""darse with N containers running (default 100; --n 1000), beside docker (a private
dockerd with --live-restore) in the same run:

- `run -d` with none running, then with N running (10 each, medians);
- `ps`, `ps -a --format ...` and `inspect` of one, with N running (medians of 10), and
  the API's GET /containers/json alone (the daemon's share of `ps`, medians of 20);
- PSS of the daemon and its supervisors (darsed + darse-shim; dockerd + containerd + the
  containerd-shims) with none running and with N, and what each container adds;
- a restart of the daemon: SIGTERM, then a new one, until all N are listed running.

The N containers are `busybox sleep` with --network none, started through the API by 4
threads (the CLI's start-up is what the run -d rows measure). By default darsed and the
CLI are the working tree's; --installed for the venv's.

    sudo /opt/darse/venv/bin/python bench/scale.py [--n 100] [--installed] [--no-docker]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.cli_start import Cli, install_tree  # noqa: E402
from bench.engine import VENV_BIN, _wait_socket, busybox_tarball, pss_kb, stop  # noqa: E402
from bench.run_latency import start_darsed  # noqa: E402
from darse.cli.client import APIError, Client  # noqa: E402

FORMAT = "{{.ID}} {{.Names}} {{.Status}} {{.Image}}"


class Engine:
    def __init__(self, name: str, cli: Cli, host: str, base: Path) -> None:
        self.name, self.cli, self.host, self.base = name, cli, host, base
        self.proc: subprocess.Popen | None = None

    def out(self, *args: str) -> str:
        return subprocess.run([*self.cli.argv, *args], capture_output=True, text=True,
                              check=True, env=self.cli.env).stdout

    def ms(self, *args: str, n: int = 10) -> float:
        self.cli.timed(*args)
        return statistics.median(self.cli.timed(*args)[0] for _ in range(n)) * 1000

    def pids(self) -> list[int]:
        """The daemon and its supervisors: the processes whose command line names the
        engine's own folder (or socket), the daemon itself included."""
        out = subprocess.run(["pgrep", "-f", str(self.base)], capture_output=True,
                             text=True).stdout
        own = {os.getpid()}
        return [int(p) for p in out.split() if int(p) not in own and _not_container(int(p))]

    def pss_mb(self) -> float:
        return sum(pss_kb(p) for p in self.pids()) / 1024

    def running(self) -> int:
        return len(Client(self.host).json("GET", "/containers/json"))


def _not_container(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return not f.read().startswith(b"sleep")
    except OSError:
        return False


def api_ms(e: Engine, path: str, n: int = 20) -> float:
    """The daemon's side of a listing, without the CLI's start (medians of n)."""
    client = Client(e.host)
    client.request("GET", path).read()
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        client.request("GET", path).read()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def start_many(e: Engine, n: int) -> list[str]:
    body = {"Image": "busybox", "Cmd": ["sleep", "100000"],
            "HostConfig": {"NetworkMode": "none"}}

    def one(_: int) -> str:
        client = Client(e.host)
        cid = client.json("POST", "/containers/create", None, body)["Id"]
        client.request("POST", f"/containers/{cid}/start").read()
        return cid

    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(one, range(n)))


def remove_all(e: Engine) -> None:
    ids = [c["Id"] for c in Client(e.host).json("GET", "/containers/json", {"all": True})]

    def one(cid: str) -> None:
        try:
            Client(e.host).request("DELETE", f"/containers/{cid}", {"force": True}).read()
        except APIError:
            pass

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(one, ids))


def run_d(e: Engine, count: int = 10) -> tuple[float, list[str]]:
    times, ids = [], []
    for _ in range(count):
        t0 = time.perf_counter()
        ids.append(e.out("run", "-d", "--network", "none", "busybox", "sleep", "100000")
                   .strip())
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000, ids


def measure(e: Engine, n: int, restart: callable) -> dict[str, float]:
    r: dict[str, float] = {}
    e.out("run", "--rm", "--network", "none", "busybox", "true")  # warm up
    r["pss, none running (MB)"] = e.pss_mb()
    r["run -d, none running (ms)"], ids = run_d(e)
    for cid in ids:
        e.out("rm", "-f", cid)
    t0 = time.perf_counter()
    start_many(e, n)
    r[f"start {n} (s, 4 API clients)"] = time.perf_counter() - t0
    time.sleep(2)
    r[f"pss, {n} running (MB)"] = e.pss_mb()
    r["pss per container (MB)"] = (r[f"pss, {n} running (MB)"] -
                                   r["pss, none running (MB)"]) / n
    r[f"ps, {n} running (ms)"] = e.ms("ps")
    r[f"ps -a --format, {n} (ms)"] = e.ms("ps", "-a", "--format", FORMAT)
    r[f"GET /containers/json, {n} (ms)"] = api_ms(e, "/containers/json")
    one = e.out("ps", "-q").split()[0]
    r["inspect one (ms)"] = e.ms("inspect", one)
    r[f"run -d, {n} running (ms)"], ids = run_d(e)
    for cid in ids:
        e.out("rm", "-f", cid)
    r["restart re-adopts all (s)"] = restart(e, n)
    return r


def restart_darse(base: Path, installed: bool, tree: str, **darsed: str) -> callable:
    def restart(e: Engine, n: int) -> float:
        e.proc.send_signal(signal.SIGTERM)
        e.proc.wait(timeout=60)
        t0 = time.perf_counter()
        _, e.proc = start_darsed(base, installed, tree, wait=False, **darsed)
        return _until_running(e, n, t0)
    return restart


def _until_running(e: Engine, n: int, t0: float) -> float:
    deadline = t0 + 300
    while time.perf_counter() < deadline:
        try:
            if e.running() >= n:
                return time.perf_counter() - t0
        except (OSError, APIError):
            pass
        time.sleep(0.02)
    raise RuntimeError(f"{e.name}: not all {n} containers running 300 s after a restart")


def start_docker(base: Path) -> tuple[Engine, subprocess.Popen] | None:
    import shutil

    if not shutil.which("dockerd") or not shutil.which("docker"):
        return None
    base.mkdir(parents=True, exist_ok=True)
    sock = base / "docker.sock"
    argv = ["dockerd", "--data-root", str(base / "data"), "--exec-root", str(base / "exec"),
            "-H", f"unix://{sock}", "--pidfile", str(base / "docker.pid"), "--bridge", "none",
            "--iptables=false", "--ip6tables=false", "--live-restore"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_socket(sock)
    e = Engine("docker", Cli("docker", ["docker", "-H", f"unix://{sock}"]), f"unix://{sock}",
               base)
    e.proc = proc
    return e, argv


def restart_docker(argv: list[str]) -> callable:
    def restart(e: Engine, n: int) -> float:
        e.proc.send_signal(signal.SIGTERM)
        e.proc.wait(timeout=120)
        t0 = time.perf_counter()
        e.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return _until_running(e, n, t0)
    return restart


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=100)
    p.add_argument("--installed", action="store_true")
    p.add_argument("--no-docker", action="store_true")
    args = p.parse_args()
    base = Path(tempfile.mkdtemp(prefix="darse-bench-scale-", dir="/var/lib"))
    results: dict[str, dict[str, float]] = {}
    engines: list[Engine] = []
    try:
        tarball = busybox_tarball(base)
        host, proc = start_darsed(base / "darse", args.installed, ROOT)
        if args.installed:
            cli = Cli("darse", [f"{VENV_BIN}/darse", "-H", host])
        else:
            argv, env = install_tree(base / "tree", None)
            cli = Cli("darse", [*argv, "-H", host], env)
        d = Engine("darse", cli, host, base / "darse")
        d.proc = proc
        engines.append(d)
        with open(tarball, "rb") as f:
            subprocess.run([*cli.argv, "import", "-", "busybox:latest"], stdin=f, check=True,
                           capture_output=True, env=cli.env)
        results["darse"] = measure(d, args.n, restart_darse(base / "darse", args.installed,
                                                              ROOT))
        remove_all(d)
        docker = None if args.no_docker else start_docker(base / "docker")
        if docker:
            dk, dargv = docker
            engines.append(dk)
            with open(tarball, "rb") as f:
                subprocess.run([*dk.cli.argv, "import", "-", "busybox:latest"], stdin=f,
                               check=True, capture_output=True)
            results["docker"] = measure(dk, args.n, restart_docker(dargv))
            remove_all(dk)
        names = list(results)
        print(f"{'':34s}" + "".join(f"{n:>10s}" for n in names) +
              ("  darse/docker" if len(names) == 2 else ""))
        for key in results["darse"]:
            vals = [results[n][key] for n in names]
            ratio = f"  {vals[0] / vals[1]:.2f}" if len(vals) == 2 and vals[1] else ""
            print(f"{key:34s}" + "".join(f"{v:10.2f}" for v in vals) + ratio)
    finally:
        for e in engines:
            try:
                remove_all(e)
            except (OSError, APIError):
                pass
        stop([e.proc for e in engines if e.proc], base)


if __name__ == "__main__":
    main()
