"""darse-shim killed -9 (issue 10, item 2): darsed starts a new one, which takes the
running containers back from the runtime's state; a container that ends afterwards is
seen to end (its exit code read from its zombie while it can be, else 255), its restart
policy fires, and stop works as before."""

from __future__ import annotations

import json
import os
import shutil
import signal
import time

from darse.runtime import state
from tests.daemon import Darsed, leftover_mounts, new_daemon


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

        # The one that ended with no shim to see it: ended, its code read from its zombie
        # if no one reaped it yet, else dockerd's 255 for a lost container.
        _until(lambda: not _state(d, "meanwhile")["State"]["Running"])
        st = _state(d, "meanwhile")["State"]
        assert st["Status"] == "exited" and st["ExitCode"] in (7, 255), st
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
        assert (state.proc_stat(live_pid) or ("Z",))[0] == "Z"  # init reaps it
        status, out = d.api("GET", "/containers/json")
        assert [c["Names"] for c in json.loads(out)] == [["/again"]]
    finally:
        if d.proc is not None and d.proc.poll() is not None:
            d.start()
        d.stop()
        assert leftover_mounts(str(d.base)) == []
        shutil.rmtree(d.base, ignore_errors=True)
