"""Issue 13's latency rows for two revisions of darse side by side (and docker): `run --rm`
(--network none, and the default bridge), `run -d` and `rm -f` of a `sleep`, and `ps` with
none running. One sample of each engine in turn, so that the machine's load weighs on all
alike; medians, the change, and each one's ratio to docker.

    sudo /opt/darse/venv/bin/python bench/latency_ab.py --before REV [-n 30] [--no-docker]
        [--bridges NAME0,NAME1 --bips CIDR0,CIDR1]

"before" is REV's darse (darsed and CLI), "after" the working tree's, each with its own
data root, bridge and CLI laid out as install.sh does (bench/cli_start.py). docker is a
private dockerd (bench/engine.py: --bridge none, so it has no bridge row).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.cli_start import Cli, install_tree  # noqa: E402
from bench.engine import busybox_tarball, import_busybox, start_docker, stop  # noqa: E402
from bench.run_latency import start_darsed  # noqa: E402

ROWS = {"none": ("run", "--rm", "--network", "none", "busybox", "true"),
        "bridge": ("run", "--rm", "busybox", "true"), "ps": ("ps",)}


def timed(cli: Cli, *args: str) -> tuple[float, str]:
    """Wall ms of one command, and its output; fails loudly if the command does."""
    t0 = time.perf_counter()
    done = subprocess.run([*cli.argv, *args], capture_output=True, text=True, env=cli.env)
    ms = (time.perf_counter() - t0) * 1000
    if done.returncode:
        raise RuntimeError(f"{cli.name} {' '.join(args)}: {done.stderr}")
    return ms, done.stdout.strip()


def measure(clis: dict[str, Cli], n: int) -> dict[str, dict[str, list[float]]]:
    out: dict[str, dict[str, list[float]]] = {name: {} for name in clis}
    for cli in clis.values():
        timed(cli, *ROWS["none"])  # warm up: the layers in the page cache, the shim started
    for row, args in ROWS.items():
        for _ in range(n):
            for name, cli in clis.items():
                if row == "bridge" and name == "docker":
                    continue
                out[name].setdefault(row, []).append(timed(cli, *args)[0])
    ids: dict[str, list[str]] = {name: [] for name in clis}
    for _ in range(n):
        for name, cli in clis.items():
            ms, cid = timed(cli, "run", "-d", "--network", "none", "busybox", "sleep", "1000")
            out[name].setdefault("run -d", []).append(ms)
            ids[name].append(cid)
    for i in range(n):
        for name, cli in clis.items():
            out[name].setdefault("rm -f", []).append(timed(cli, "rm", "-f", ids[name][i])[0])
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--before", required=True, help="the git revision to compare with")
    p.add_argument("-n", type=int, default=30)
    p.add_argument("--no-docker", action="store_true")
    p.add_argument("--bridges", default="dzbenchab0,dzbenchab1")
    p.add_argument("--bips", default="10.249.0.1/24,10.249.1.1/24")
    args = p.parse_args()
    bridges, bips = args.bridges.split(","), args.bips.split(",")
    base = Path(tempfile.mkdtemp(prefix="darse-bench-ab-", dir="/var/lib"))
    procs: list[subprocess.Popen] = []
    try:
        tarball = busybox_tarball(base)
        rev_tree = base / "rev"
        rev_tree.mkdir()
        archive = subprocess.run(["git", "-C", ROOT, "archive", args.before, "darse"],
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(rev_tree)], input=archive, check=True)
        clis: dict[str, Cli] = {}
        for i, (name, tree, rev) in enumerate([("before", str(rev_tree), args.before),
                                               ("after", ROOT, None)]):
            host, proc = start_darsed(base / name, False, tree, bridge=bridges[i],
                                      bip=bips[i])
            procs.append(proc)
            argv, env = install_tree(base / f"cli-{name}", rev)
            clis[name] = Cli(name, [*argv, "-H", host], env)
            with open(tarball, "rb") as f:
                subprocess.run([*clis[name].argv, "import", "-", "busybox:latest"], stdin=f,
                               check=True, capture_output=True, env=env)
        docker = None if args.no_docker else start_docker(base / "docker")
        if docker:
            procs.append(docker[1])
            import_busybox(docker[0], tarball)
            clis["docker"] = Cli("docker", docker[0].cli)
        load = os.getloadavg()[0]
        res = measure(clis, args.n)
        print(f"medians of {args.n}, load {load:.2f} -> {os.getloadavg()[0]:.2f}")
        print(f"{'':10s}{'before':>10s}{'after':>10s}{'change':>10s}" +
              (f"{'docker':>10s}{'before/d':>10s}{'after/d':>10s}" if docker else ""))
        for row in res["before"]:
            b, a = (statistics.median(res[k][row]) for k in ("before", "after"))
            line = f"{row:10s}{b:8.1f}ms{a:8.1f}ms{a - b:+8.1f}ms"
            if docker and row in res["docker"]:
                d = statistics.median(res["docker"][row])
                line += f"{d:8.1f}ms{b / d:10.2f}{a / d:10.2f}"
            print(line)
    finally:
        stop(procs, base)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
