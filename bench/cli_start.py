"""The CLI's own cost: `ps` with no container, a tree of darse's before and after a change,
beside the docker CLI (a private dockerd) and Python's own start-up, in the same run.

Each tree is installed as install.sh installs it (a copy of its darse package, compiled,
behind its `darse` launcher: darse.cli.launcher's where the tree has one, pip's console
script otherwise), against one private darsed. Wall time is the median of N runs; CPU
time (the child's user+sys) is what other load on the machine disturbs least.

    sudo /opt/darse/venv/bin/python bench/cli_start.py [-n 50] [--before HEAD]
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

from bench.engine import start_darse, start_docker, stop  # noqa: E402

PIP_SCRIPT = """#!{python}
import sys
from darse.cli import entry
if __name__ == '__main__':
    sys.exit(entry())
"""


class Cli:
    """A darse (or docker) command line: argv prefix and environment."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> None:
        self.name, self.argv, self.env = name, argv, env

    def timed(self, *args: str) -> tuple[float, float]:
        """(wall, cpu) seconds of one run; fails loudly if the command does."""
        t0 = time.perf_counter()
        proc = subprocess.Popen([*self.argv, *args], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, env=self.env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        err = proc.stderr.read()
        proc.stderr.close()
        if proc.returncode:
            raise RuntimeError(f"{self.name} {' '.join(args)}: {err.decode()}")
        return wall, usage.ru_utime + usage.ru_stime


def install_tree(dest: Path, rev: str | None) -> tuple[list[str], dict[str, str] | None]:
    """A copy of darse (the working tree's, or git rev's) as install.sh lays it out."""
    site = dest / "site"
    site.mkdir(parents=True)
    if rev:
        archive = subprocess.run(["git", "-C", ROOT, "archive", rev, "darse"],
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(site)], input=archive, check=True)
    else:
        shutil.copytree(os.path.join(ROOT, "darse"), site / "darse",
                        ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(site)], check=True)
    launcher = dest / "darse"
    if (site / "darse" / "cli" / "launcher.py").exists():
        subprocess.run([sys.executable, "-c", "import sys; from darse.cli import launcher; "
                        "launcher.write(sys.argv[1], sys.argv[2], sys.argv[3])",
                        str(launcher), sys.executable, str(site)],
                       env=dict(os.environ, PYTHONPATH=str(site)), check=True)
        return [str(launcher)], None
    # pip's script finds darse on sys.path: the copy first, ahead of the venv's own.
    launcher.write_text(PIP_SCRIPT.format(python=sys.executable))
    launcher.chmod(0o755)
    return [str(launcher)], dict(os.environ, PYTHONPATH=str(site))


def imports(cli: Cli, *args: str) -> tuple[int, float]:
    """How many modules the command imports beyond bare Python's, and their total time
    (-X importtime's top-level cumulative figures)."""
    argv = cli.argv
    with open(argv[0]) as f:
        first = f.readline()
    flags = first.split()[1:] if first.startswith("#!") else []
    env = dict(cli.env or os.environ, PYTHONDONTWRITEBYTECODE="1")
    done = subprocess.run([sys.executable, *flags, "-X", "importtime", argv[0], *argv[1:],
                           *args], capture_output=True, text=True, env=env)
    count, total = 0, 0
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line[len("import time:"):].split("|")
        if not cumulative.strip().isdigit():
            continue
        count += 1
        if not name.startswith("  "):
            total += int(cumulative)
    return count, total / 1000


def measure(cli: Cli, n: int, *args: str) -> str:
    cli.timed(*args)  # warm the page cache
    runs = [cli.timed(*args) for _ in range(n)]
    walls, cpus = [w for w, _ in runs], [c for _, c in runs]
    return (f"{statistics.median(walls) * 1000:5.1f} ms wall (min {min(walls) * 1000:4.1f}), "
            f"{statistics.median(cpus) * 1000:5.1f} ms cpu")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("-n", type=int, default=50)
    p.add_argument("--before", default="HEAD", help="git revision to compare with")
    args = p.parse_args()
    base = Path(tempfile.mkdtemp(prefix="darse-bench-cli-", dir="/var/lib"))
    procs = []
    rows: list[tuple[str, str]] = []
    try:
        d, proc = start_darse(base / "darse", bridge="dzbenchcli0", bip="10.246.0.1/24")
        procs.append(proc)
        host = d.cli[1:]
        python = Cli("python", [sys.executable])
        rows.append(("python -I -S -c pass", measure(python, args.n, "-I", "-S", "-c", "pass")))
        rows.append(("python -c pass", measure(python, args.n, "-c", "pass")))
        for label, rev in ((f"darse ({args.before})", args.before), ("darse (working tree)",
                                                                      None)):
            argv, env = install_tree(base / (rev or "tree").replace("/", "_"), rev)
            cli = Cli(label, [*argv, *host], env)
            rows.append((f"{label} ps", measure(cli, args.n, "ps")))
            rows.append((f"{label} ps --format", measure(cli, args.n, "ps", "-a", "--format",
                                                          "{{.ID}} {{.Names}}")))
            count, total = imports(cli, "ps")
            rows.append((f"{label} ps imports", f"{count} modules, {total:.1f} ms"))
        docker = start_docker(base / "docker")
        if docker:
            procs.append(docker[1])
            cli = Cli("docker", docker[0].cli)
            rows.append(("docker ps", measure(cli, args.n, "ps")))
            rows.append(("docker ps --format", measure(cli, args.n, "ps", "-a", "--format",
                                                        "{{.ID}} {{.Names}}")))
        for name, value in rows:
            print(f"{name:36s} {value}")
    finally:
        stop(procs, base)


if __name__ == "__main__":
    main()
