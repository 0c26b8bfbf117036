"""The daemons start apart from whoever typed the command: darsed started by the CLI and
darse-shim started by darsed import nothing from the caller's working directory (a
`darse/` package left there by another user would run as root), run in /, with a clean
environment, and hold none of the caller's directories or files open.

The CLI starts darsed only for the default socket; here the same code path is driven
with a private socket, data root and exec root (Client.autostart), from a script run the
way the `darse` console script runs (its own folder on sys.path, never the cwd)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from darse.runtime import state
from tests.conftest import unique_network
from tests.daemon import Darsed, leftover_mounts, new_daemon

CHECKOUT = str(Path(__file__).resolve().parents[2])
AUTOSTART = """
import json, sys
from darse.cli.client import Client
client = Client(sys.argv[1])
client.autostart_log = sys.argv[2]
client.autostart = sys.argv[3:]
print(json.dumps(client.json("GET", "/containers/json")))
"""
SHIM = """
import sys
from darse.shim.client import ShimClient
ShimClient(sys.argv[1]).ensure_running()
"""


@pytest.fixture
def planted(tmp_path: Path) -> Path:
    """A working directory holding someone's `darse` package, which leaves a mark if it
    is ever imported."""
    caller = tmp_path / "caller"
    (caller / "darse").mkdir(parents=True)
    (caller / "darse" / "__init__.py").write_text(
        "import os, sys\n"
        f"with open({str(tmp_path / 'imported')!r}, 'a') as f:\n"
        "    f.write(f'{os.getpid()} {sys.argv}\\n')\n")
    return caller


def run_as_console_script(code: str, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """python -P: sys.path gets neither the cwd nor the script's; PYTHONPATH points at
    the checkout under test (as tests/daemon.py does), and marks the caller's environment."""
    env = dict(os.environ, PYTHONPATH=CHECKOUT, DARSE_CALLER_ONLY="1")
    return subprocess.run([sys.executable, "-P", "-c", code, *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)


def assert_isolated(pid: int, caller: Path) -> None:
    assert os.readlink(f"/proc/{pid}/cwd") == "/"
    with open(f"/proc/{pid}/environ", "rb") as f:
        env = dict(item.split(b"=", 1) for item in f.read().split(b"\0") if item)
    assert sorted(env) == [b"LANG", b"PATH"], env
    held = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
    assert not [h for h in held if h.startswith(str(caller))], held
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        argv = f.read().split(b"\0")
    assert b"-I" in argv  # isolated: no cwd, PYTHONPATH nor user site on sys.path
    assert CHECKOUT.encode() in argv  # the same sources as the process that started it


def wait_gone(pid: int) -> None:
    deadline = time.monotonic() + 20
    while (st := state.proc_stat(pid)) is not None and st[0] != "Z":
        assert time.monotonic() < deadline, f"{pid} still running"
        time.sleep(0.02)


def read_pid(path: str) -> int:
    with open(path) as f:
        return int(f.read())


def test_darsed_started_by_the_cli_ignores_the_callers_directory(planted: Path) -> None:
    d = new_daemon()
    bridge, bip = unique_network()
    (d.base / "daemon.json").write_text(json.dumps({"bridge": bridge, "bip": bip}))
    pid = None
    try:
        done = run_as_console_script(
            AUTOSTART, planted, d.host, str(d.base / "darsed.log"), "-H", d.host,
            "--data-root", d.data_root, "--exec-root", d.exec_root,
            "--config-file", str(d.base / "daemon.json"), "--cleanup")
        assert not (planted.parent / "imported").exists(), \
            (planted.parent / "imported").read_text()
        log = (d.base / "darsed.log").read_text() if (d.base / "darsed.log").exists() else ""
        assert done.returncode == 0, done.stderr + log
        assert json.loads(done.stdout) == []
        pid = read_pid(os.path.join(d.exec_root, "darsed.pid"))
        assert_isolated(pid, planted)
        assert_isolated(read_pid(os.path.join(d.exec_root, "shim.pid")), planted)
    finally:
        stop_autostarted(d, pid)


def stop_autostarted(d: Darsed, pid: int | None) -> None:
    """darsed is not our child (the CLI's session): signal it by its pid file, then the
    shim as tests/daemon.py does."""
    if pid is None and os.path.exists(os.path.join(d.exec_root, "darsed.pid")):
        pid = read_pid(os.path.join(d.exec_root, "darsed.pid"))
    if pid is not None and state.proc_stat(pid) is not None:
        os.kill(pid, signal.SIGTERM)
        wait_gone(pid)
    d.stop()
    assert leftover_mounts(str(d.base)) == []
    shutil.rmtree(d.base, ignore_errors=True)


def test_shim_started_by_darsed_ignores_its_directory(planted: Path, tmp_path: Path) -> None:
    exec_root = tmp_path / "exec"
    pid = None
    try:
        done = run_as_console_script(SHIM, planted, str(exec_root))
        assert not (planted.parent / "imported").exists(), \
            (planted.parent / "imported").read_text()
        assert done.returncode == 0, done.stderr
        pid = read_pid(str(exec_root / "shim.pid"))
        assert_isolated(pid, planted)
    finally:
        if pid is None and (exec_root / "shim.pid").exists():
            pid = read_pid(str(exec_root / "shim.pid"))
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
            wait_gone(pid)
