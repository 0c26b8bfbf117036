"""darse-shim killed -9 (issue 10, item 2): its parent, darse-keeper, starts a new one,
which takes the running containers back with their streams; a container that ends
meanwhile or afterwards is seen to end with its own exit code, its restart policy fires,
and stop works as before. The keeper's own death costs nothing while its shim runs."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable

from darse.runtime import state
from tests.daemon import Darsed, leftover_mounts, new_daemon
from tests.terminal import read_until


def _state(d: Darsed, name: str) -> dict:
    status, out = d.api("GET", f"/containers/{name}/json")
    assert status == 200, out
    return json.loads(out)


def _until(pred, timeout: float = 20) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline
        time.sleep(0.05)


def _run(d: Darsed, name: str, cmd: list[str], restart: str = "no") -> str:
    status, out = d.api("POST", f"/containers/create?name={name}",
                        {"Image": "busybox", "Cmd": cmd,
                         "HostConfig": {"RestartPolicy": {"Name": restart}}})
    assert status == 201, out
    cid = json.loads(out)["Id"]
    assert d.api("POST", f"/containers/{cid}/start")[0] == 204
    return cid


def test_containers_survive_the_death_of_the_shim(busybox_rootfs: str) -> None:
    d = new_daemon()
    try:
        d.start()
        d.import_busybox(busybox_rootfs)
        _run(d, "live", ["sleep", "1000"])
        _run(d, "ends", ["sh", "-c", "sleep 3; exit 3"])
        _run(d, "again", ["sh", "-c", "sleep 3; exit 5"], restart="on-failure")
        live_pid = _state(d, "live")["State"]["Pid"]
        _run(d, "meanwhile", ["sh", "-c", "sleep 1; exit 7"])
        pid_file = os.path.join(d.exec_root, "shim.pid")
        old = int(open(pid_file).read())
        os.kill(old, signal.SIGSTOP)  # `meanwhile` ends while its shim cannot see it
        _until(lambda: (state.proc_stat(_state(d, "meanwhile")["State"]["Pid"]) or
                        ("Z",))[0] == "Z")
        os.kill(old, signal.SIGKILL)
        _until(lambda: os.path.exists(pid_file) and int(open(pid_file).read()) != old)

        # The one that ended with no shim to see it: ended, with its code (the keeper
        # reaped it).
        _until(lambda: not _state(d, "meanwhile")["State"]["Running"])
        st = _state(d, "meanwhile")["State"]
        assert (st["Status"], st["ExitCode"]) == ("exited", 7), st
        # The one that ends after the new shim took it back: seen, with its code.
        _until(lambda: not _state(d, "ends")["State"]["Running"])
        st = _state(d, "ends")["State"]
        assert (st["Status"], st["ExitCode"]) == ("exited", 3), st
        # Its restart policy fires.
        _until(lambda: _state(d, "again")["RestartCount"] >= 1)
        _until(lambda: _state(d, "again")["State"]["Running"])
        # The one still running is still running, and stops at once.
        st = _state(d, "live")["State"]
        assert (st["Running"], st["Pid"]) == (True, live_pid)
        t0 = time.monotonic()
        assert d.api("POST", "/containers/live/stop?t=1")[0] == 204
        assert time.monotonic() - t0 < 5
        st = _state(d, "live")["State"]
        assert (st["Status"], st["ExitCode"]) == ("exited", 137), st
        assert state.proc_stat(live_pid) is None  # reaped (by the keeper), not left a zombie
        status, out = d.api("GET", "/containers/json")
        assert [c["Names"] for c in json.loads(out)] == [["/again"]]
    finally:
        if d.proc is not None and d.proc.poll() is not None:
            d.start()
        d.stop()
        assert leftover_mounts(str(d.base)) == []
        shutil.rmtree(d.base, ignore_errors=True)


# --- what the supervisor's death must not lose: streams, exit codes (keeper) ---------

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COUNTER = "i=0; while :; do echo $i; i=$((i+1)); sleep 0.2; done"


def _cli(d: Darsed, *args: str, **kw) -> subprocess.Popen:  # noqa: ANN003
    env = dict(os.environ, PYTHONPATH=ROOT, DARSE_CONFIG=str(d.base / "darse-config"))
    return subprocess.Popen([sys.executable, "-m", "darse.cli", "-H", d.host, *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, **kw)


def _darse(d: Darsed, *args: str) -> str:
    proc = _cli(d, *args)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, (args, err)
    return out.decode()


def _pid_in(path: str) -> int:
    """The pid a pid file holds, 0 while there is none (or it is being written)."""
    try:
        with open(path) as f:
            return int(f.read())
    except (OSError, ValueError):
        return 0


def _typed(sock: socket.socket, command: bytes, answer: bytes) -> bytes:
    """Type a command until its answer comes: what is typed while an attach is taken up
    again on a new shim is lost."""
    seen = b""
    for _ in range(20):
        sock.sendall(command)
        seen += read_until(sock.fileno(), answer, timeout=1)
        if answer in seen:
            break
    return seen


def _kill_shim(d: Darsed, stop_first: Callable[[], bool] | None = None,
               then: Callable[[], bool] | None = None) -> None:
    """kill -9 of darse-shim (after it was stopped until stop_first() holds, so that what
    happens then happens with no shim to see it); returns once a new one runs, or once
    then() holds."""
    pid_file = os.path.join(d.exec_root, "shim.pid")
    old = int(open(pid_file).read())
    if stop_first is not None:
        os.kill(old, signal.SIGSTOP)
        _until(stop_first)
    os.kill(old, signal.SIGKILL)
    if then is not None:
        _until(then)
        return
    _until(lambda: _pid_in(pid_file) not in (0, old))
    _until(lambda: d.api("GET", "/containers/json")[0] == 200)


def _stop(d: Darsed) -> None:
    """d.stop(), and its shim's keeper goes with the shim (nothing left running)."""
    path = os.path.join(d.exec_root, "keeper.pid")
    keeper = int(open(path).read()) if os.path.exists(path) else 0
    d.stop()
    if keeper:
        _until(lambda: (state.proc_stat(keeper) or ("Z",))[0] == "Z", timeout=10)


def _numbers(text: str) -> list[int]:
    return [int(line) for line in text.split()]


def _hijack(d: Darsed, path: str, body: dict | None = None) -> socket.socket:
    data = json.dumps(body).encode() if body is not None else b""
    sock = socket.socket(socket.AF_UNIX)
    sock.connect(d.sock)
    sock.sendall(f"POST {path} HTTP/1.1\r\nHost: darse\r\nConnection: Upgrade\r\n"
                 f"Upgrade: tcp\r\nContent-Type: application/json\r\n"
                 f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)
        assert chunk, head
        head += chunk
    assert head.split()[1] == b"101", head
    return sock


def test_output_and_stop_survive_the_death_of_the_shim(busybox_rootfs: str) -> None:
    """A container writing all the time: no output lost, no EPIPE, logs -f and a later
    attach see what comes after, stop takes its usual time and gives the right code."""
    d = new_daemon()
    follow = attach = through = None
    try:
        d.start()
        d.import_busybox(busybox_rootfs)
        cid = _darse(d, "run", "-d", "--name", "count", "busybox", "sh", "-c", COUNTER).strip()
        _until(lambda: len(_darse(d, "logs", "count").split()) >= 3)
        pid = _state(d, "count")["State"]["Pid"]
        follow = _cli(d, "logs", "-f", "count")
        through = _cli(d, "attach", "--no-stdin", "count")
        read_until(through.stdout.fileno(), b"\n", timeout=10)
        _kill_shim(d)
        seen = len(_darse(d, "logs", "count").split())
        # An attach begun before the death goes on with the next shim.
        assert b"\n%d\n" % (seen + 5) in read_until(through.stdout.fileno(),
                                                    b"\n%d\n" % (seen + 5), timeout=15)
        attach = _cli(d, "attach", "--no-stdin", "count")
        _until(lambda: len(_darse(d, "logs", "count").split()) >= seen + 10)
        # Every number once, in order: nothing written while no shim read was lost.
        numbers = _numbers(_darse(d, "logs", "count"))
        assert numbers == list(range(len(numbers))), numbers
        st = _state(d, "count")["State"]
        assert (st["Running"], st["Pid"]) == (True, pid), st
        attached = read_until(attach.stdout.fileno(), b"\n", timeout=10)
        assert attached and _numbers(attached.decode())[0] >= seen - 1, attached
        t0 = time.monotonic()
        assert d.api("POST", "/containers/count/stop?t=1")[0] == 204
        assert time.monotonic() - t0 < 5
        st = _state(d, "count")["State"]
        assert (st["Status"], st["ExitCode"]) == ("exited", 137), st
        assert state.proc_stat(pid) is None  # reaped, no zombie left behind
        # logs -f, begun before the death, followed through it to the end.
        out, _ = follow.communicate(timeout=20)
        final = _numbers(_darse(d, "logs", "count"))
        assert final[:len(numbers)] == numbers and _numbers(out.decode()) == final
        for p in (attach, through):
            p.wait(timeout=20)  # ended with the container
        assert cid
    finally:
        for p in (follow, attach, through):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()
        _stop(d)
        assert leftover_mounts(str(d.base)) == []
        shutil.rmtree(d.base, ignore_errors=True)


def test_exit_codes_of_containers_ended_while_no_shim_ran(busybox_rootfs: str) -> None:
    """Containers that end while their supervisor is stopped then killed: the exact exit
    code (not dockerd's 255 for a lost container), no zombie left, restart policies fire;
    one that ends after the new supervisor took it back: its code too."""
    d = new_daemon()
    try:
        d.start()
        d.import_busybox(busybox_rootfs)
        wait_go = "until [ -e /go ]; do sleep 0.1; done; exit "
        _darse(d, "run", "-d", "--name", "seven", "busybox", "sh", "-c", wait_go + "7")
        _darse(d, "run", "-d", "--name", "again", "--restart", "on-failure", "busybox", "sh",
               "-c", wait_go + "9")
        _darse(d, "run", "-d", "--name", "later", "busybox", "sh", "-c", "sleep 4; exit 3")
        pids = {n: _state(d, n)["State"]["Pid"] for n in ("seven", "again", "later")}
        merged = {n: _state(d, n)["GraphDriver"]["Data"]["MergedDir"] for n in pids}
        shim = int(open(os.path.join(d.exec_root, "shim.pid")).read())

        def go() -> bool:  # once the shim cannot see it: the two end
            if (state.proc_stat(shim) or ("T",))[0] in ("T", "t"):
                for n in ("seven", "again"):
                    open(os.path.join(merged[n], "go"), "w").close()
            return all((state.proc_stat(pids[n]) or ("Z",))[0] == "Z" for n in ("seven", "again"))

        # darsed held too, so no new shim comes from it for a while: the two end, and
        # whoever is their parent then reaps them (the zombie's code gone with it).
        d.proc.send_signal(signal.SIGSTOP)
        try:
            _kill_shim(d, go,
                       then=lambda: all(state.proc_stat(pids[n]) is None
                                        for n in ("seven", "again")))
        finally:
            d.proc.send_signal(signal.SIGCONT)
        _until(lambda: d.api("GET", "/containers/json")[0] == 200)
        _until(lambda: not _state(d, "seven")["State"]["Running"])
        st = _state(d, "seven")["State"]
        assert (st["Status"], st["ExitCode"]) == ("exited", 7), st
        status = _darse(d, "ps", "-a", "--filter", "name=seven", "--format", "{{.Status}}")
        assert status.startswith("Exited (7) "), status
        _until(lambda: _state(d, "again")["RestartCount"] >= 1)
        _until(lambda: not _state(d, "later")["State"]["Running"])
        st = _state(d, "later")["State"]
        assert (st["Status"], st["ExitCode"]) == ("exited", 3), st
        for name in ("seven", "again", "later"):  # each reaped: no zombie left behind
            _until(lambda n=name: state.proc_stat(pids[n]) is None, timeout=5)
    finally:
        _stop(d)
        assert leftover_mounts(str(d.base)) == []
        shutil.rmtree(d.base, ignore_errors=True)


def test_interactive_container_and_exec_survive_the_death_of_the_shim(
        busybox_rootfs: str) -> None:
    """-ti: the terminal stays (no hangup), a later attach types into it and reads it;
    a detached exec that ends after the death is seen to end, with its code."""
    d = new_daemon()
    try:
        d.start()
        d.import_busybox(busybox_rootfs)
        _darse(d, "run", "-dti", "--name", "tty", "busybox", "sh")
        pid = _state(d, "tty")["State"]["Pid"]
        execs = {}
        for name, cmd in (("gap", "sleep 1; exit 4"), ("after", "sleep 4; exit 5")):
            status, out = d.api("POST", "/containers/tty/exec", {"Cmd": ["sh", "-c", cmd]})
            assert status == 201, out
            execs[name] = json.loads(out)["Id"]
            assert d.api("POST", f"/exec/{execs[name]}/start", {"Detach": True})[0] == 200

        def exec_state(name: str) -> dict:
            return json.loads(d.api("GET", f"/exec/{execs[name]}/json")[1])

        gap_pid = exec_state("gap")["Pid"]
        before = _hijack(d, "/containers/tty/attach?stream=1&stdin=1&stdout=1&stderr=1")
        before.sendall(b"echo hi-$((40+0))\n")
        assert b"hi-40" in read_until(before.fileno(), b"hi-40", timeout=10)
        status, out = d.api("POST", "/containers/tty/exec", {
            "Cmd": ["sh"], "AttachStdin": True, "AttachStdout": True, "AttachStderr": True,
            "Tty": True})
        execs["shell"] = json.loads(out)["Id"]
        shell = _hijack(d, f"/exec/{execs['shell']}/start", {"Detach": False, "Tty": True})
        shell.sendall(b"echo ex-$((1+1))\n")
        assert b"ex-2" in read_until(shell.fileno(), b"ex-2", timeout=10)
        # `gap` ends while its shim cannot see it, `after` once a new one took it back.
        _kill_shim(d, lambda: (state.proc_stat(gap_pid) or ("Z",))[0] == "Z")
        # Both attaches stay open until the end: darsed ends a tty's input when its client
        # goes, which would end this shell.
        sock = None
        try:  # the attach begun before goes on: what is typed once it is back is run
            seen = _typed(before, b"echo hi-$((40+1))\n", b"hi-41")
            assert b"hi-41" in seen, seen
            # So does an attached exec's (docker exec -ti), to its end and code.
            seen = _typed(shell, b"echo ex-$((1+2))\n", b"ex-3")
            assert b"ex-3" in seen, seen
            shell.sendall(b"exit 6\n")
            assert read_until(shell.fileno(), None, timeout=10) is not None
            _until(lambda: exec_state("shell")["Running"] is False)
            assert exec_state("shell")["ExitCode"] == 6, exec_state("shell")
            for name, code in (("gap", 4), ("after", 5)):
                _until(lambda n=name: exec_state(n)["Running"] is False)
                assert exec_state(name)["ExitCode"] == code, exec_state(name)
            st = _state(d, "tty")["State"]
            assert (st["Running"], st["Pid"]) == (True, pid), st
            sock = _hijack(d, "/containers/tty/attach?stream=1&stdin=1&stdout=1&stderr=1")
            sock.sendall(b"echo hi-$((40+2))\n")
            assert b"hi-42" in read_until(sock.fileno(), b"hi-42", timeout=10)
            assert d.api("POST", "/containers/tty/stop?t=1")[0] == 204
        finally:
            before.close()
            shell.close()
            if sock is not None:
                sock.close()
        assert _state(d, "tty")["State"]["Status"] == "exited"
    finally:
        _stop(d)
        assert leftover_mounts(str(d.base)) == []
        shutil.rmtree(d.base, ignore_errors=True)


def test_the_keepers_own_death_leaves_its_shim_running(busybox_rootfs: str) -> None:
    """kill -9 of darse-keeper: its shim runs on (containers logged, stopped with their
    codes); when that shim dies too, darsed starts a keeper and a shim again, which take
    the container back as a shim without a keeper did (pidfd), and stop works."""
    d = new_daemon()
    try:
        d.start()
        d.import_busybox(busybox_rootfs)
        _darse(d, "run", "-d", "--name", "count", "busybox", "sh", "-c", COUNTER)
        _darse(d, "run", "-d", "--name", "quiet", "busybox", "sleep", "1000")
        keeper = int(open(os.path.join(d.exec_root, "keeper.pid")).read())
        shim = int(open(os.path.join(d.exec_root, "shim.pid")).read())
        os.kill(keeper, signal.SIGKILL)
        seen = len(_darse(d, "logs", "count").split())
        _until(lambda: len(_darse(d, "logs", "count").split()) >= seen + 5)
        assert (state.proc_stat(shim) or ("X",))[0] not in ("Z", "X")
        assert d.api("POST", "/containers/count/stop?t=1")[0] == 204
        st = _state(d, "count")["State"]
        assert (st["Status"], st["ExitCode"]) == ("exited", 137), st
        _kill_shim(d)
        assert int(open(os.path.join(d.exec_root, "keeper.pid")).read()) != keeper
        assert _state(d, "quiet")["State"]["Running"]
        t0 = time.monotonic()
        assert d.api("POST", "/containers/quiet/stop?t=1")[0] == 204
        assert time.monotonic() - t0 < 5
        st = _state(d, "quiet")["State"]
        assert (st["Status"], st["ExitCode"]) == ("exited", 137), st
    finally:
        _stop(d)
        assert leftover_mounts(str(d.base)) == []
        shutil.rmtree(d.base, ignore_errors=True)
