"""Where the time of `run --rm --network none busybox true` goes, darse beside docker (a
private dockerd) in the same run.

The whole command through each CLI, then the same API calls the CLI makes, timed from
here (create, attach, start, the wait's answer) and placed against the daemon's own events
(start: the runtime has started the process; die: its exit reported; destroy: removed),
all on the host's clock:

    cli start        the whole command less the API calls below (interpreter, imports)
    create           POST /containers/create (image config read, record, folders)
    attach           the hijacked attach connection
    start → running  POST /containers/start to the start event (mount, runtime, shim)
    running → exit   the start event to die (`true` itself, the exit reaching the daemon)
    exit → removed   die to destroy (unmount, delete)
    removed → wait   destroy to the wait's answer reaching the client

    sudo /opt/darse/venv/bin/python bench/run_latency.py [-n 30] [--rev REV | --installed]
        [--bridge NAME --bip CIDR] [--no-docker]

By default darsed and the CLI are the working tree's (bench/cli_start.py's install);
--rev REV a git revision's, --installed the venv's. --bridge and --bip name darsed's
bridge (dzbenchrun0, 10.248.0.1/24 by default: one run of this bench at a time).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.cli_start import Cli, install_tree  # noqa: E402
from bench.engine import (  # noqa: E402
    VENV_BIN,
    _wait_socket,
    busybox_tarball,
    import_busybox,
    start_docker,
    stop,
)
from darse.cli.client import Client  # noqa: E402
from darse.cli.stream import Demuxer  # noqa: E402

PHASES = ["cli start", "create", "attach", "start → running", "running → exit",
          "exit → removed", "removed → wait", "api total", "whole command"]


def start_darsed(base: Path, installed: bool, tree: str, wait: bool = True,
                 bridge: str = "dzbenchrun0", bip: str = "10.248.0.1/24"
                 ) -> tuple[str, subprocess.Popen]:
    base.mkdir(parents=True, exist_ok=True)
    (base / "none.json").write_text("{}")
    sock = base / "darse.sock"
    args = ["-H", f"unix://{sock}", "--data-root", str(base / "data"), "--exec-root",
            str(base / "exec"), "--config-file", str(base / "none.json"), "--bridge",
            bridge, "--bip", bip, "--cleanup"]
    if installed:
        argv, env = [f"{VENV_BIN}/darsed", *args], None
    else:
        argv, env = [sys.executable, "-m", "darse.daemon", *args], dict(os.environ,
                                                                         PYTHONPATH=tree)
    # In the tree: `python -m` puts the working directory first on sys.path.
    proc = subprocess.Popen(argv, env=env, cwd=tree, stdout=subprocess.DEVNULL,
                            stderr=open(base / "darsed.log", "ab"))  # noqa: SIM115
    if wait:
        _wait_socket(sock)
    return f"unix://{sock}", proc


class Events:
    """The daemon's container events, as they arrive, by (id, action)."""

    def __init__(self, host: str) -> None:
        self.seen: dict[tuple[str, str], int] = {}
        self.cond = threading.Condition()
        self.resp = Client(host).request("GET", "/events", {
            "filters": '{"type":["container"]}'})
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        from darse.cli import fastjson

        buf = b""
        while chunk := self._chunk():
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                if line.strip():
                    e = fastjson.loads(line)
                    with self.cond:
                        self.seen[(e.get("id") or e["Actor"]["ID"], e["Action"])] = \
                            e["timeNano"]
                        self.cond.notify_all()

    def _chunk(self) -> bytes:
        try:
            return self.resp.read1(65536)
        except OSError:  # the daemon stopped at the end of the bench
            return b""

    def when(self, cid: str, action: str, timeout: float = 10) -> int:
        with self.cond:
            self.cond.wait_for(lambda: (cid, action) in self.seen, timeout)
            return self.seen[(cid, action)]


def api_run(client: Client, events: Events) -> dict[str, float]:
    """The CLI's calls for `run --rm --network none busybox true`; phases in ms."""
    ns = time.time_ns
    t0 = ns()
    cid = client.json("POST", "/containers/create", None, {
        "Image": "busybox", "Cmd": ["true"], "AttachStdout": True, "AttachStderr": True,
        "HostConfig": {"AutoRemove": True, "NetworkMode": "none"}})["Id"]
    t1 = ns()
    sock = client.hijack(f"/containers/{cid}/attach", {"stream": True, "stdout": True,
                                                        "stderr": True})
    t2 = ns()
    result: dict[str, int] = {}

    def waiter() -> None:
        client.json("POST", f"/containers/{cid}/wait", {"condition": "removed"})
        result["wait"] = ns()

    thread = threading.Thread(target=waiter)
    thread.start()
    t3 = ns()
    client.request("POST", f"/containers/{cid}/start").read()
    demux = Demuxer()
    while data := sock.recv(65536):
        demux.feed(data)
    sock.close()
    thread.join()
    started, died = events.when(cid, "start"), events.when(cid, "die")
    destroyed = events.when(cid, "destroy")
    ms = 1e-6
    return {"create": (t1 - t0) * ms, "attach": (t2 - t1) * ms,
            "start → running": (started - t3) * ms, "running → exit": (died - started) * ms,
            "exit → removed": (destroyed - died) * ms,
            "removed → wait": (result["wait"] - destroyed) * ms,
            "api total": (result["wait"] - t0) * ms}


def measure(name: str, cli: Cli, host: str, n: int) -> dict[str, str]:
    args = ("run", "--rm", "--network", "none", "busybox", "true")
    cli.timed(*args)  # warm up: the image's layers in the page cache, the shim started
    whole = [cli.timed(*args)[0] * 1000 for _ in range(n)]
    client, events = Client(host), Events(host)
    phases: dict[str, list[float]] = {}
    for _ in range(n):
        for k, v in api_run(client, events).items():
            phases.setdefault(k, []).append(v)
    out = {k: statistics.median(v) for k, v in phases.items()}
    out["whole command"] = statistics.median(whole)
    out["cli start"] = out["whole command"] - out["api total"]
    return {k: f"{out[k]:6.1f} ms" for k in PHASES}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("-n", type=int, default=30)
    p.add_argument("--installed", action="store_true")
    p.add_argument("--rev", help="a git revision's darse instead of the working tree's")
    p.add_argument("--bridge", default="dzbenchrun0", help="darsed's bridge (its name)")
    p.add_argument("--bip", default="10.248.0.1/24", help="darsed's bridge address")
    p.add_argument("--no-docker", action="store_true", help="darse alone")
    args = p.parse_args()
    base = Path(tempfile.mkdtemp(prefix="darse-bench-run-", dir="/var/lib"))
    procs: list[subprocess.Popen] = []
    results: dict[str, dict[str, str]] = {}
    try:
        tarball = busybox_tarball(base)
        tree = ROOT
        if args.rev:
            tree = str(base / "rev")
            os.mkdir(tree)
            archive = subprocess.run(["git", "-C", ROOT, "archive", args.rev, "darse"],
                                     capture_output=True, check=True).stdout
            subprocess.run(["tar", "-x", "-C", tree], input=archive, check=True)
        host, proc = start_darsed(base / "darse", args.installed, tree, bridge=args.bridge,
                                  bip=args.bip)
        procs.append(proc)
        if args.installed:
            cli = Cli("darse", [f"{VENV_BIN}/darse", "-H", host])
        else:
            argv, env = install_tree(base / "tree", args.rev)
            cli = Cli("darse", [*argv, "-H", host], env)
        with open(tarball, "rb") as f:
            subprocess.run([*cli.argv, "import", "-", "busybox:latest"], stdin=f, check=True,
                           capture_output=True, env=cli.env)
        results["darse"] = measure("darse", cli, host, args.n)
        docker = None if args.no_docker else start_docker(base / "docker")
        if docker:
            procs.append(docker[1])
            import_busybox(docker[0], tarball)
            dhost = docker[0].cli[-1]
            results["docker"] = measure("docker", Cli("docker", docker[0].cli), dhost, args.n)
        names = list(results)
        print(f"{'':18s}" + "".join(f"{n:>12s}" for n in names))
        for phase in PHASES:
            print(f"{phase:18s}" + "".join(f"{results[n][phase]:>12s}" for n in names))
    finally:
        stop(procs, base)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
