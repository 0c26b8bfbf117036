"""darse (darsed + the darse CLI, as install.sh installs them) side by side with docker
(a private dockerd, when Debian's docker.io is installed), in the same run:

- `run --rm busybox true` latency;
- `run -d busybox sleep` of 50 containers, then `rm -f` of each;
- `ps` with nothing running;
- idle memory (PSS) per running container: what the per-container supervisor costs
  (darse-shim's growth, or the containerd-shim processes).

Both daemons run on their own data roots and sockets, without bridge or iptables
(`--network none` for every container: darse has no bridge network yet).

    sudo /opt/darse/venv/bin/python bench/engine.py [-n 20]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from darse.image.busybox import make_rootfs  # noqa: E402
from tests.ocilayout import tar_of_dir  # noqa: E402

VENV_BIN = os.path.dirname(sys.executable)


def pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def pids_of(pattern: str) -> list[int]:
    out = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout
    return [int(p) for p in out.split() if int(p) != os.getpid()]


class Engine:
    def __init__(self, name: str, cli: list[str]) -> None:
        self.name, self.cli = name, cli

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run([*self.cli, *args], capture_output=True, text=True, check=check)

    def timed(self, *args: str) -> float:
        t0 = time.perf_counter()
        self.run(*args)
        return time.perf_counter() - t0


def start_darse(base: Path, bridge: str = "dzbencheng0",
                bip: str = "10.245.0.1/24") -> tuple[Engine, subprocess.Popen]:
    """A darsed of the bench's own: its bridge and table, all removed on exit."""
    sock = base / "darse.sock"
    proc = subprocess.Popen([f"{VENV_BIN}/darsed", "-H", f"unix://{sock}", "--data-root",
                             str(base / "data"), "--exec-root", str(base / "exec"),
                             "--config-file", str(base / "none.json"), "--bridge", bridge,
                             "--bip", bip, "--cleanup"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_socket(sock)
    return Engine("darse", [f"{VENV_BIN}/darse", "-H", f"unix://{sock}"]), proc


def import_busybox(e: Engine, tarball: Path) -> None:
    with open(tarball, "rb") as f:
        subprocess.run([*e.cli, "import", "-", "busybox:latest"], stdin=f, check=True,
                       capture_output=True)


def busybox_tarball(base: Path) -> Path:
    """A busybox image's filesystem, as a tar for `import`, made from busybox-static."""
    rootfs = base / "rootfs"
    make_rootfs(str(rootfs))
    tarball = base / "busybox.tar"
    tarball.write_bytes(tar_of_dir(str(rootfs)))
    return tarball


def print_results(results: dict[str, dict[str, str]]) -> None:
    for name, r in results.items():
        print(f"{name}:")
        for k, v in r.items():
            print(f"  {k:28s} {v}")


def stop(procs: list[subprocess.Popen], base: Path) -> None:
    """Stops the daemons, then any shim they left, and removes the bench's files."""
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    for pid_file in base.glob("*/exec/shim.pid"):
        try:
            os.kill(int(pid_file.read_text()), signal.SIGTERM)
        except ProcessLookupError:
            pass
    time.sleep(0.5)
    subprocess.run(["umount", "-R", str(base / "docker" / "data")], capture_output=True)
    shutil.rmtree(base, ignore_errors=True)


def start_docker(base: Path) -> tuple[Engine, subprocess.Popen] | None:
    if not shutil.which("dockerd") or not shutil.which("docker"):
        return None
    sock = base / "docker.sock"
    proc = subprocess.Popen(["dockerd", "--data-root", str(base / "data"), "--exec-root",
                             str(base / "exec"), "-H", f"unix://{sock}", "--pidfile",
                             str(base / "docker.pid"), "--bridge", "none", "--iptables=false",
                             "--ip6tables=false"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    _wait_socket(sock)
    return Engine("docker", ["docker", "-H", f"unix://{sock}"]), proc


def _wait_socket(sock: Path) -> None:
    deadline = time.monotonic() + 30
    while not sock.exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{sock} did not appear")
        time.sleep(0.05)
    time.sleep(0.5)


def measure(e: Engine, n: int, tarball: Path) -> dict[str, str]:
    import_busybox(e, tarball)
    e.run("run", "--rm", "--network", "none", "busybox", "true")  # warm up
    out: dict[str, str] = {}
    runs = [e.timed("run", "--rm", "--network", "none", "busybox", "true") for _ in range(n)]
    out["run --rm busybox true"] = f"{statistics.median(runs) * 1000:.0f} ms"
    starts, ids = [], []
    t_all = time.perf_counter()
    for _ in range(50):
        t0 = time.perf_counter()
        ids.append(e.run("run", "-d", "--network", "none", "busybox", "sleep", "1000")
                   .stdout.strip())
        starts.append(time.perf_counter() - t0)
    start_wall = time.perf_counter() - t_all
    out["run -d (50 containers)"] = (f"{statistics.median(starts) * 1000:.0f} ms each, "
                                     f"{50 / start_wall:.1f}/s")
    out["ps, 50 running"] = f"{statistics.median([e.timed('ps') for _ in range(10)]) * 1000:.0f} ms"
    removes = [e.timed("rm", "-f", cid) for cid in ids]
    out["rm -f (50 containers)"] = f"{statistics.median(removes) * 1000:.0f} ms each"
    out["ps, nothing running"] = \
        f"{statistics.median([e.timed('ps') for _ in range(n)]) * 1000:.0f} ms"
    return out


def memory(e: Engine, count: int = 20) -> str:
    pattern = "darse.shim" if e.name == "darse" else "containerd-shim"
    before = sum(pss_kb(p) for p in pids_of(pattern))
    ids = [e.run("run", "-d", "--network", "none", "busybox", "sleep", "1000").stdout.strip()
           for _ in range(count)]
    time.sleep(1)
    after = sum(pss_kb(p) for p in pids_of(pattern))
    for cid in ids:
        e.run("rm", "-f", cid)
    return (f"{(after - before) / count:.0f} kB/container more "
            f"({pattern}: {before / 1024:.1f} MB before, {after / 1024:.1f} MB with {count})")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("-n", type=int, default=20)
    n = p.parse_args().n
    base = Path(tempfile.mkdtemp(prefix="darse-bench-engine-", dir="/var/lib"))
    procs = []
    try:
        tarball = busybox_tarball(base)
        results = {}
        d, proc = start_darse(base / "darse")
        procs.append(proc)
        results["darse"] = measure(d, n, tarball)
        results["darse"]["idle memory"] = memory(d)
        docker = start_docker(base / "docker")
        if docker:
            procs.append(docker[1])
            results["docker"] = measure(docker[0], n, tarball)
            results["docker"]["idle memory"] = memory(docker[0])
        print_results(results)
    finally:
        stop(procs, base)

if __name__ == "__main__":
    main()
