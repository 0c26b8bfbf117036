"""Issue 13's figures in one run: darse beside docker (a private dockerd, when Debian's
docker.io is installed), each row with the ratio, the aim and whether it is met.

    key       row                                                        aim
    bridge    run --rm busybox true, the default bridge network          <= 0.2 of docker
    none      run --rm --network none busybox true                       <= 0.15
    rund      run -d --network none busybox sleep, each of 50            <= 0.25
    rmf       rm -f of those 50, each                                    ~0.13 (<= 0.15)
    ps        ps with no container (wall; CPU shown beside)              <= 1.3
    pull      pull of 6 layers, 101 MiB, 5000 small files from a local
              registry (Debian's docker-registry), empty cache           <= 0.5
    transfer  200 MiB from a container's httpd through 127.0.0.1:PORT,
              against straight to its address                            >= 95 % of direct
    scale     N running (--n): ps and ps -a --format < 100 ms, inspect
              of one < 20 ms (the API's; the CLI's shown), stats
              --no-stream of all < 1 s, run -d <= +20 % of none running,
              PSS of the daemon and its supervisors < 60 MB + 0.5 MB
              per container, a restart that re-adopts all N < 5 s
    ports     with N running, 100 user-defined networks and 200 published
              ports: run -d -p no slower than without them               <= 1.1 (noise)

Rows are interleaved between the engines (one sample of each in turn), so that a busy
moment of the machine hits both; the scale rows run one engine after the other (2N
containers at once would measure the host). Each engine has its own data and exec
roots, socket and bridge (darsed --cleanup removes its own; dockerd's is made here and
removed at the end, --iptables=false so the host's rules stay as they are); every
container, network and mount goes at the end.

    sudo /opt/darse/venv/bin/python bench/all.py [--n 1000] [--rows bridge,none,...]
        [-r 10] [--no-docker] [--installed]

darsed and the CLI are the working tree's (the CLI installed as install.sh does,
bench/cli_start.py), or the venv's with --installed.
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
from dataclasses import dataclass
from pathlib import Path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench import network, scale  # noqa: E402
from bench.cli_start import Cli, install_tree  # noqa: E402
from bench.engine import VENV_BIN, _wait_socket, busybox_tarball, stop  # noqa: E402
from bench.run_latency import start_darsed  # noqa: E402
from darse.cli.client import APIError  # noqa: E402

ROWS = ("bridge", "none", "rund", "rmf", "ps", "pull", "transfer", "scale", "ports")
DARSE_BRIDGE, DARSE_BIP = "dzball0", "10.199.1.1/24"
DOCKER_BRIDGE, DOCKER_BIP = "dzball1", "10.199.2.1/24"
NETWORKS_SUBNET = "10.198.{}.0/24"


class Side(scale.Engine):
    """One engine: its CLI, its API, its processes; what bench/network.py calls too."""

    restart = None  # (Side, n) -> seconds until all n are listed running again

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run([*self.cli.argv, *args], capture_output=True, text=True,
                              env=self.cli.env)
        if check and done.returncode:
            raise RuntimeError(f"{self.name} {' '.join(args)}: {done.stderr.strip()}")
        return done

    def timed(self, *args: str) -> float:
        return self.cli.timed(*args)[0]


@dataclass
class Row:
    label: str
    darse: float | None
    docker: float | None
    unit: str
    aim: str
    met: bool | None
    note: str = ""


def fmt(v: float | None, unit: str) -> str:
    if v is None:
        return "-"
    if unit == "%":
        return f"{v:.0f} %"
    if unit == "s":
        return f"{v:.2f} s"
    if unit == "MB":
        return f"{v:.1f} MB"
    if unit == "MB/s":
        return f"{v:.0f} MB/s"
    return f"{v:.1f} ms" if v < 100 else f"{v:.0f} ms"


def vs_docker(label: str, d: float | None, k: float | None, unit: str, aim: float,
              note: str = "", text: str = "") -> Row:
    """A row whose aim is a ratio of docker's figure."""
    met = None if d is None or not k else d / k <= aim
    return Row(label, d, k, unit, text or f"<= {aim:g}", met, note)


def absolute(label: str, d: float | None, k: float | None, unit: str, limit: float,
             text: str, note: str = "") -> Row:
    return Row(label, d, k, unit, text, None if d is None else d < limit, note)


def interleaved(sides: list[Side], count: int, one: callable) -> dict[str, list[float]]:
    """count samples of one(side) for each side, taken in turn."""
    out: dict[str, list[float]] = {s.name: [] for s in sides}
    for _ in range(count):
        for s in sides:
            out[s.name].append(one(s))
    return out


def medians(samples: dict[str, list[float]], scale_by: float = 1000) -> dict[str, float]:
    return {k: statistics.median(v) * scale_by for k, v in samples.items() if v}


# --- engines -------------------------------------------------------------------------


def start_darse(base: Path, installed: bool) -> Side:
    host, proc = start_darsed(base / "darse", installed, ROOT, bridge=DARSE_BRIDGE,
                              bip=DARSE_BIP)
    if installed:
        cli = Cli("darse", [f"{VENV_BIN}/darse", "-H", host])
    else:
        argv, env = install_tree(base / "tree", None)
        cli = Cli("darse", [*argv, "-H", host], env)
    side = Side("darse", cli, host, base / "darse")
    side.proc = proc
    side.restart = scale.restart_darse(base / "darse", installed, ROOT, bridge=DARSE_BRIDGE,
                                       bip=DARSE_BIP)
    return side


def start_docker(base: Path) -> Side | None:
    """A private dockerd on a bridge of its own (made here: dockerd makes only docker0),
    --live-restore so that its containers outlive a restart as darse's do."""
    if not shutil.which("dockerd") or not shutil.which("docker"):
        return None
    root = base / "docker"
    root.mkdir(parents=True)
    subprocess.run(["ip", "link", "add", DOCKER_BRIDGE, "type", "bridge"], check=True)
    subprocess.run(["ip", "addr", "add", DOCKER_BIP, "dev", DOCKER_BRIDGE], check=True)
    subprocess.run(["ip", "link", "set", DOCKER_BRIDGE, "up"], check=True)
    sock = root / "docker.sock"
    argv = ["dockerd", "--data-root", str(root / "data"), "--exec-root", str(root / "exec"),
            "-H", f"unix://{sock}", "--pidfile", str(root / "docker.pid"), "--bridge",
            DOCKER_BRIDGE, "--iptables=false", "--ip6tables=false", "--ip-masq=false",
            "--live-restore"]
    log = open(root / "dockerd.log", "ab")  # noqa: SIM115

    def launch() -> subprocess.Popen:
        return subprocess.Popen(argv, stdout=log, stderr=log)

    proc = launch()
    _wait_socket(sock)
    env = dict(os.environ, DOCKER_CONFIG=str(root / "config"))
    side = Side("docker", Cli("docker", ["docker", "-H", f"unix://{sock}"], env),
                f"unix://{sock}", root)
    side.proc = proc

    def restart(e: Side, n: int) -> float:
        e.proc.terminate()
        e.proc.wait(timeout=120)
        t0 = time.perf_counter()
        e.proc = launch()
        return scale._until_running(e, n, t0)

    side.restart = restart
    return side


def import_busybox(side: Side, tarball: Path) -> None:
    with open(tarball, "rb") as f:
        subprocess.run([*side.cli.argv, "import", "-", "busybox:latest"], stdin=f,
                       check=True, capture_output=True, env=side.cli.env)


# --- rows ----------------------------------------------------------------------------


def run_rm(sides: list[Side], count: int, mode: str) -> dict[str, float]:
    args = ("run", "--rm", "--network", mode, "busybox", "true")
    for s in sides:
        s.run(*args)  # the image's files in the page cache, the supervisor started
    return medians(interleaved(sides, count, lambda s: s.timed(*args)))


def run_d_and_rm(sides: list[Side], count: int = 50) -> tuple[dict, dict]:
    ids: dict[str, list[str]] = {s.name: [] for s in sides}

    def start(s: Side) -> float:
        t0 = time.perf_counter()
        ids[s.name].append(s.run("run", "-d", "--network", "none", "busybox", "sleep",
                                 "1000").stdout.strip())
        return time.perf_counter() - t0

    def remove(s: Side) -> float:
        return s.timed("rm", "-f", ids[s.name].pop())

    return (medians(interleaved(sides, count, start)),
            medians(interleaved(sides, count, remove)))


def ps_empty(sides: list[Side], count: int) -> tuple[dict, dict]:
    for s in sides:
        s.cli.timed("ps")
    walls: dict[str, list[float]] = {s.name: [] for s in sides}
    cpus: dict[str, list[float]] = {s.name: [] for s in sides}
    for _ in range(count):
        for s in sides:
            wall, cpu = s.cli.timed("ps")
            walls[s.name].append(wall)
            cpus[s.name].append(cpu)
    return medians(walls), medians(cpus)


def pull(sides: list[Side], base: Path, count: int) -> dict[str, float]:
    from bench.pull import layers
    from tests.image.conftest import RegistryServer
    from tests.ocilayout import Layout

    (base / "registry").mkdir()
    registry = RegistryServer(base / "registry")
    # A new image for every pull (another salt: every layer new), none deleted until
    # the end: files made right after thousands were deleted cost ext4 (this host's,
    # without a journal) up to 30 times more (bench/README.md), a cost of the host's
    # that the last run's rmi would pass to the next.
    names: dict[str, list[str]] = {s.name: [] for s in sides}
    try:
        for i in range(count * len(sides)):
            Layout(base / f"layout{i}").image(layers(i + 1))
            registry.push_layout(base / f"layout{i}", f"bench/big{i}")
            names[sides[i % len(sides)].name].append(f"{registry.host}/bench/big{i}:latest")
        left = {k: list(v) for k, v in names.items()}
        # Inodes freed in the last minute (the rows before, an earlier run's cleanup)
        # are skipped one by one at every allocation once written back: let them age.
        os.sync()
        time.sleep(61)

        def once(s: Side) -> float:
            os.sync()  # the last run's writeback is not this one's
            return s.timed("pull", "-q", left[s.name].pop())

        out = medians(interleaved(sides, count, once), 1)
        for s in sides:
            s.run("rmi", "-f", *names[s.name], check=False)
        return out
    finally:
        registry.stop()


def transfer(sides: list[Side], base: Path) -> dict[str, tuple[float, float]]:
    www = base / "www"
    www.mkdir(exist_ok=True)
    if not (www / "big").exists():
        with open(www / "big", "wb") as f:
            f.write(os.urandom(network.SIZE))
    return {s.name: network.transfer(s, www, {}) for s in sides}


def run_d(s: Side, k: int) -> list[float]:
    """k samples of `run -d` (ms), the containers removed after."""
    times, ids = [], []
    for _ in range(k):
        t0 = time.perf_counter()
        ids.append(s.run("run", "-d", "--network", "none", "busybox", "sleep", "100000")
                   .stdout.strip())
        times.append((time.perf_counter() - t0) * 1000)
    for cid in ids:
        s.run("rm", "-f", cid)
    return times


def at_scale(s: Side, n: int, k: int, ports: bool) -> dict[str, float]:
    """The scale figures of one engine (which ends with none of its containers). run -d
    with none running is sampled before the N start and after they went, so that the
    machine's load drifting in between weighs on both sides of the comparison."""
    r: dict[str, float] = {}
    s.run("run", "--rm", "--network", "none", "busybox", "true")
    r["pss0"] = s.pss_mb()
    none_running = run_d(s, k)
    t0 = time.perf_counter()
    scale.start_many(s, n)
    r["start"] = time.perf_counter() - t0
    time.sleep(2)
    r["pssN"] = s.pss_mb()
    r["ps"] = s.ms("ps", n=k)
    r["psa"] = s.ms("ps", "-a", "--format", scale.FORMAT, n=k)
    r["api ps"] = scale.api_ms(s, "/containers/json")
    one = s.out("ps", "-q").split()[0]
    r["inspect"] = s.ms("inspect", one, n=k)
    r["api inspect"] = scale.api_ms(s, f"/containers/{one}/json")
    r["stats"] = s.ms("stats", "--no-stream", n=3) / 1000
    r["rundN"] = statistics.median(run_d(s, k))
    r["restart"] = s.restart(s, n)
    if ports:
        r["runp0"], _ = network.run_p(s, k, {}, "none published")
        ids = network.load(s, 200, 100, NETWORKS_SUBNET)
        r["runpL"], _ = network.run_p(s, k, {}, "200 published, 100 networks")
        for cid in ids:
            s.run("rm", "-f", cid)
        for i in range(100):
            s.run("network", "rm", f"dzbnet{i}")
    scale.remove_all(s)
    r["rund0"] = statistics.median(none_running + run_d(s, k))
    return r


def scale_rows(res: dict[str, dict[str, float]], n: int, ports: bool) -> list[Row]:
    d, k = res.get("darse", {}), res.get("docker", {})

    def both(key: str) -> tuple[float | None, float | None]:
        return d.get(key), k.get(key)

    rows = [Row(f"start {n} (4 API clients)", *both("start"), "s", "", None),
            absolute(f"ps, {n} running", *both("ps"), "ms", 100, "< 100 ms",
                     f"API alone: {fmt(d.get('api ps'), 'ms')} / "
                     f"{fmt(k.get('api ps'), 'ms')}"),
            absolute(f"ps -a --format, {n}", *both("psa"), "ms", 100, "< 100 ms"),
            absolute("inspect one (API)", *both("api inspect"), "ms", 20, "< 20 ms",
                     f"CLI: {fmt(d.get('inspect'), 'ms')} / {fmt(k.get('inspect'), 'ms')}"),
            absolute(f"stats --no-stream, {n}", *both("stats"), "s", 1, "< 1 s")]
    slow = {e: r["rundN"] / r["rund0"] * 100 - 100 for e, r in res.items() if "rundN" in r}
    rows.append(Row(f"run -d, {n} running vs none", slow.get("darse"), slow.get("docker"),
                    "%", "<= +20 %", None if "darse" not in slow else slow["darse"] <= 20,
                    f"{fmt(d.get('rund0'), 'ms')} -> {fmt(d.get('rundN'), 'ms')}; docker "
                    f"{fmt(k.get('rund0'), 'ms')} -> {fmt(k.get('rundN'), 'ms')}"))
    limit = 60 + 0.5 * n
    rows.append(absolute(f"PSS daemon+supervisors, {n}", *both("pssN"), "MB", limit,
                         f"< {limit:g} MB", f"none running: {fmt(d.get('pss0'), 'MB')} / "
                         f"{fmt(k.get('pss0'), 'MB')}"))
    rows.append(absolute(f"restart re-adopts all {n}", *both("restart"), "s", 5, "< 5 s"))
    if ports:
        ratio = {e: r["runpL"] / r["runp0"] for e, r in res.items() if "runpL" in r}
        rows.append(Row("run -d -p, 200 ports+100 nets vs none",
                        ratio.get("darse"), ratio.get("docker"), "x", "<= 1.1",
                        None if "darse" not in ratio else ratio["darse"] <= 1.1,
                        f"{fmt(d.get('runp0'), 'ms')} -> {fmt(d.get('runpL'), 'ms')}; docker "
                        f"{fmt(k.get('runp0'), 'ms')} -> {fmt(k.get('runpL'), 'ms')}"))
    return rows


def print_table(rows: list[Row]) -> None:
    head = f"{'':40s}{'darse':>11s}{'docker':>11s}{'ratio':>8s}  {'aim':<16s}met?"
    print(head)
    print("-" * len(head))
    for r in rows:
        if r.unit == "x":
            dv = "-" if r.darse is None else f"{r.darse:.2f}x"
            kv = "-" if r.docker is None else f"{r.docker:.2f}x"
            ratio = ""
        elif r.unit == "%" and r.aim.startswith("<= +"):
            dv = "-" if r.darse is None else f"{r.darse:+.0f} %"
            kv = "-" if r.docker is None else f"{r.docker:+.0f} %"
            ratio = ""
        else:
            dv, kv = fmt(r.darse, r.unit), fmt(r.docker, r.unit)
            ratio = f"{r.darse / r.docker:.2f}" if r.darse and r.docker else ""
        met = {True: "yes", False: "NO", None: ""}[r.met]
        print(f"{r.label:40s}{dv:>11s}{kv:>11s}{ratio:>8s}  {r.aim:<16s}{met}")
        if r.note:
            print(f"{'':42s}{r.note}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", default=",".join(ROWS),
                   help=f"comma-separated, of {', '.join(ROWS)} (default: all)")
    p.add_argument("--n", type=int, default=1000, help="containers for the scale rows")
    p.add_argument("-r", "--repeat", type=int, default=10, help="samples per latency row")
    p.add_argument("--pulls", type=int, default=3, help="pulls per engine")
    p.add_argument("--no-docker", action="store_true")
    p.add_argument("--installed", action="store_true")
    args = p.parse_args()
    wanted = [r.strip() for r in args.rows.split(",") if r.strip()]
    unknown = set(wanted) - set(ROWS)
    if unknown:
        p.error(f"unknown rows: {', '.join(sorted(unknown))}")
    base = Path(tempfile.mkdtemp(prefix="darse-bench-all-", dir="/var/lib"))
    sides: list[Side] = []
    rows: list[Row] = []
    t_start = time.time()
    load = os.getloadavg()
    try:
        tarball = busybox_tarball(base)
        sides.append(start_darse(base, args.installed))
        docker = None if args.no_docker else start_docker(base)
        if docker:
            sides.append(docker)
        for s in sides:
            import_busybox(s, tarball)
        n = args.repeat
        if "ps" in wanted:  # first: nothing made yet
            wall, cpu = ps_empty(sides, max(n, 30))
            rows.append(vs_docker("ps, no container (wall)", wall.get("darse"),
                                  wall.get("docker"), "ms", 1.3,
                                  f"CPU {fmt(cpu.get('darse'), 'ms')} / "
                                  f"{fmt(cpu.get('docker'), 'ms')}"))
        for key, mode, aim in (("bridge", "bridge", 0.2), ("none", "none", 0.15)):
            if key in wanted:
                m = run_rm(sides, n, mode)
                rows.append(vs_docker(f"run --rm --network {mode} true", m.get("darse"),
                                      m.get("docker"), "ms", aim))
        if "rund" in wanted or "rmf" in wanted:
            starts, removes = run_d_and_rm(sides)
            rows.append(vs_docker("run -d, each of 50", starts.get("darse"),
                                  starts.get("docker"), "ms", 0.25))
            rows.append(vs_docker("rm -f, each of 50", removes.get("darse"),
                                  removes.get("docker"), "ms", 0.15, text="~0.13 (<= 0.15)"))
        if "pull" in wanted:
            m = pull(sides, base, args.pulls)
            rows.append(vs_docker("pull 6 layers/101 MiB/5000 files", m.get("darse"),
                                  m.get("docker"), "s", 0.5))
        if "transfer" in wanted:
            t = transfer(sides, base)
            pct = {e: pub / direct * 100 for e, (direct, pub) in t.items()}
            notes = "; ".join(f"{e}: {pub:.0f} of {direct:.0f} MB/s" for e, (direct, pub)
                              in t.items())
            rows.append(Row("200 MiB via 127.0.0.1:PORT vs direct", pct.get("darse"),
                            pct.get("docker"), "%", ">= 95 %",
                            None if "darse" not in pct else pct["darse"] >= 95, notes))
        if "scale" in wanted or "ports" in wanted:
            res: dict[str, dict[str, float]] = {}
            for s in sides:
                print(f"[{time.strftime('%H:%M:%S')}] {s.name}: {args.n} containers...",
                      file=sys.stderr)
                res[s.name] = at_scale(s, args.n, n, "ports" in wanted)
            rows.extend(scale_rows(res, args.n, "ports" in wanted))
        print(f"\ndarse ({'venv' if args.installed else 'working tree'}) beside "
              f"{'docker ' + _docker_version() if docker else 'no docker'}; "
              f"{os.cpu_count()} CPUs, load {load[0]:.1f} at the start, "
              f"{os.getloadavg()[0]:.1f} at the end; {time.time() - t_start:.0f} s; "
              f"medians of {n} (pull: {args.pulls})\n")
        print_table(rows)
    finally:
        for s in sides:
            try:
                scale.remove_all(s)
                if s.name == "docker":
                    for net in s.out("network", "ls", "-q", "--filter",
                                     "name=dzbnet").split():
                        s.run("network", "rm", net, check=False)
            except (OSError, APIError, RuntimeError, subprocess.CalledProcessError):
                pass
        stop([s.proc for s in sides if s.proc], base)
        _end_leftovers(base)
        subprocess.run(["umount", "-R", str(base / "docker" / "exec")], capture_output=True)
        subprocess.run(["ip", "link", "del", DOCKER_BRIDGE], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def _end_leftovers(base: Path) -> None:
    """What a stopped daemon left running (dockerd --live-restore leaves its containerd
    and shims): the processes whose command line names this run's own folder."""
    import signal

    for sig in (signal.SIGTERM, signal.SIGKILL):
        done = subprocess.run(["pgrep", "-f", str(base)], capture_output=True, text=True)
        pids = [int(p) for p in done.stdout.split() if int(p) != os.getpid()]
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        if not pids:
            return
        time.sleep(1)


def _docker_version() -> str:
    done = subprocess.run(["dockerd", "--version"], capture_output=True, text=True)
    return done.stdout.split(",")[0].replace("Docker version ", "") if done.stdout else "?"


if __name__ == "__main__":
    main()
