"""create/start/state/kill/delete/run/list/pause/resume/ps, as runc's callers use them."""

from __future__ import annotations

import json
import os
import subprocess
import time

from tests.runtime.conftest import RUNTIME, Runtime


def wait_status(rt: Runtime, cid: str, status: str, timeout: float = 5) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        st = rt.state(cid)
        if st["status"] == status or time.monotonic() > deadline:
            return st
        time.sleep(0.02)


def test_create_start_kill_delete(runtime: Runtime, tmp_path) -> None:
    cid = runtime.new_id()
    bundle = runtime.bundle(["sleep", "100"])
    pid_file = tmp_path / "pid"
    runtime("create", "--bundle", str(bundle), "--pid-file", str(pid_file), cid)
    st = runtime.state(cid)
    assert st["status"] == "created"
    assert st["id"] == cid and st["bundle"] == str(bundle)
    assert int(pid_file.read_text()) == st["pid"] > 0
    # The init waits for start: it has not exec'd sleep yet.
    assert "sleep" not in open(f"/proc/{st['pid']}/cmdline").read()

    runtime("start", cid)
    assert runtime.state(cid)["status"] == "running"
    assert open(f"/proc/{st['pid']}/cmdline").read().split("\0")[0] == "sleep"
    assert "cannot start an already running container" in runtime("start", cid, check=False).stderr

    denied = runtime("delete", cid, check=False)
    assert denied.returncode == 1 and "is not stopped: running" in denied.stderr

    runtime("kill", cid, "KILL")
    assert wait_status(runtime, cid, "stopped")["status"] == "stopped"
    runtime("delete", cid)
    gone = runtime("state", cid, check=False)
    assert gone.returncode == 1 and f'container "{cid}" does not exist' in gone.stderr


def test_duplicate_id_is_refused(runtime: Runtime) -> None:
    cid = runtime.start_detached(["sleep", "100"])
    again = runtime("create", "--bundle", str(runtime.bundle(["true"])), cid, check=False)
    assert again.returncode == 1
    assert f"container with id exists: {cid}" in again.stderr
    assert runtime.state(cid)["status"] == "running"  # the first one is untouched
    runtime("delete", "--force", cid)


def test_run_returns_the_exit_code_and_output(runtime: Runtime) -> None:
    done = runtime.run(["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert done.returncode == 3
    assert done.stdout == "out\n" and done.stderr == "err\n"


def test_run_reports_death_by_signal_as_128_plus_n(runtime: Runtime) -> None:
    cid = runtime.new_id()
    bundle = runtime.bundle(["sleep", "100"])
    proc = subprocess.Popen([RUNTIME, "--root", str(runtime.root), "run", "-b", str(bundle), cid])
    deadline = time.monotonic() + 10
    while runtime("state", cid, check=False).returncode != 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    wait_status(runtime, cid, "running")
    runtime("kill", cid, "KILL")
    assert proc.wait(timeout=10) == 137
    assert runtime("state", cid, check=False).returncode == 1  # run deletes what it ran


def test_kill_signal_names_and_numbers(runtime: Runtime) -> None:
    for sig in ("TERM", "SIGTERM", "15"):
        loop = "trap 'exit 42' TERM; while :; do sleep 0.1; done"
        cid = runtime.start_detached(["sh", "-c", loop])
        time.sleep(0.2)
        runtime("kill", cid, sig)
        assert wait_status(runtime, cid, "stopped")["status"] == "stopped"
        runtime("delete", cid)
    cid = runtime.start_detached(["sleep", "100"])
    bad = runtime("kill", cid, "NOSUCHSIG", check=False)
    assert bad.returncode == 1 and "invalid signal: NOSUCHSIG" in bad.stderr
    runtime("delete", "--force", cid)


def test_kill_all_reaches_every_process(runtime: Runtime) -> None:
    cid = runtime.start_detached(["sh", "-c", "sleep 100 & sleep 100 & wait"])
    time.sleep(0.2)
    pids = json.loads(runtime("ps", "--format", "json", cid).stdout)
    assert len(pids) == 3
    runtime("kill", "--all", cid, "KILL")
    deadline = time.monotonic() + 5
    while any(os.path.exists(f"/proc/{p}") and "Z" not in open(f"/proc/{p}/stat").read().split()[2]
              for p in pids) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert wait_status(runtime, cid, "stopped")["status"] == "stopped"
    runtime("delete", cid)


def test_pause_and_resume(runtime: Runtime) -> None:
    cid = runtime.start_detached(["sh", "-c", "while :; do sleep 0.01; done"])
    runtime("pause", cid)
    assert runtime.state(cid)["status"] == "paused"
    pid = runtime.state(cid)["pid"]
    before = open(f"/proc/{pid}/stat").read().split()[13]
    time.sleep(0.2)
    assert open(f"/proc/{pid}/stat").read().split()[13] == before  # no CPU time while frozen
    runtime("resume", cid)
    assert runtime.state(cid)["status"] == "running"
    assert "container not paused" in runtime("resume", cid, check=False).stderr
    runtime("delete", "--force", cid)


def test_list_and_ps(runtime: Runtime) -> None:
    cid = runtime.start_detached(["sleep", "100"])
    listed = json.loads(runtime("list", "--format", "json").stdout)
    assert [(c["id"], c["status"]) for c in listed] == [(cid, "running")]
    assert runtime("list", "-q").stdout.split() == [cid]
    table = runtime("ps", cid).stdout.splitlines()
    assert "PID" in table[0] and any("sleep 100" in row for row in table[1:])
    runtime("delete", "--force", cid)


def test_delete_force_of_missing_container_is_quiet(runtime: Runtime) -> None:
    assert runtime("delete", "--force", "nosuch").returncode == 0
    missing = runtime("delete", "nosuch", check=False)
    assert missing.returncode == 1 and 'container "nosuch" does not exist' in missing.stderr


def test_spec_and_features(runtime: Runtime, tmp_path) -> None:
    runtime("spec", "--bundle", str(tmp_path))
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["process"]["args"] == ["sh"] and config["root"]["path"] == "rootfs"
    again = runtime("spec", "--bundle", str(tmp_path), check=False)
    assert again.returncode == 1 and "exists" in again.stderr
    features = json.loads(runtime("features").stdout)
    assert "CAP_MKNOD" in features["linux"]["capabilities"]
    assert features["linux"]["seccomp"]["enabled"] is True


def test_no_pivot_moves_the_root(runtime: Runtime) -> None:
    bundle = runtime.bundle(["sh", "-c", "ls / | wc -l; echo $$"])
    done = runtime("run", "--no-pivot", "--bundle", str(bundle), runtime.new_id())
    count, pid = done.stdout.split()
    assert pid == "1" and int(count) == len(os.listdir(runtime.rootfs))


def test_library_in_process(runtime: Runtime) -> None:
    """The engine's path: no command, the runtime called as a library."""
    from darse.runtime.create import create
    from darse.runtime.delete import delete
    from darse.runtime.start import start
    from darse.runtime.state import load, status

    cid = runtime.new_id()
    bundle = runtime.bundle(["sleep", "100"])
    st = create(str(runtime.root), cid, str(bundle))
    assert status(str(runtime.root), load(str(runtime.root), cid)) == "created"
    start(str(runtime.root), cid)
    assert status(str(runtime.root), load(str(runtime.root), cid)) == "running"
    delete(str(runtime.root), cid, force=True)
    assert not os.path.exists(f"/proc/{st.pid}/cmdline") or \
        open(f"/proc/{st.pid}/stat").read().split()[2] == "Z"


def test_library_start_waits_for_the_exec_and_keeps_no_descriptor(runtime: Runtime) -> None:
    """In one process (the supervisor's way) start returns once the init runs the
    user's program, and neither a started container nor one deleted unstarted leaves a
    descriptor behind."""
    from darse.runtime.create import create
    from darse.runtime.delete import delete
    from darse.runtime.start import start

    fds = sorted(os.listdir("/proc/self/fd"))
    cid = runtime.new_id()
    st = create(str(runtime.root), cid, str(runtime.bundle(["sleep", "100"])))
    start(str(runtime.root), cid)
    with open(f"/proc/{st.pid}/cmdline", "rb") as f:
        assert f.read() == b"sleep\x00100\x00"  # its execve is done when start returns
    delete(str(runtime.root), cid, force=True)
    unstarted = runtime.new_id()
    create(str(runtime.root), unstarted, str(runtime.bundle(["true"])))
    delete(str(runtime.root), unstarted, force=True)
    for pid in (st.pid,):
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
    assert sorted(os.listdir("/proc/self/fd")) == fds


def test_only_stdio_and_preserved_descriptors_reach_the_process(runtime: Runtime) -> None:
    """Descriptors the runtime's caller left open and inheritable (a supervisor holds a
    few per container) do not reach the container's process; --preserve-fds ones do."""
    kept_r, kept_w = os.pipe()
    extra = [os.open("/dev/null", os.O_RDONLY) for _ in range(40)]
    try:
        for fd in (kept_r, kept_w, *extra):
            os.set_inheritable(fd, True)
        bundle = runtime.bundle(["sh", "-c", "ls /proc/self/fd | sort -n | tr '\\n' ' '"])
        # The pipe's read end also as fd 3 of the runtime: the one --preserve-fds 1 passes.
        done = subprocess.run(["bash", "-c", f'exec "$0" "$@" 3<&{kept_r}', RUNTIME, "--root",
                               str(runtime.root), "run", "--preserve-fds", "1", "--bundle",
                               str(bundle), runtime.new_id()],
                              capture_output=True, text=True, pass_fds=(kept_r, kept_w, *extra),
                              timeout=60)
        assert done.returncode == 0, done.stderr
        # 0-2, the preserved 3, and the directory ls reads (4).
        assert done.stdout.split() == ["0", "1", "2", "3", "4"]
    finally:
        for fd in (kept_r, kept_w, *extra):
            os.close(fd)
