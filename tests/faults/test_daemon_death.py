"""darsed killed while the CLI streams from it: the CLI ends as docker's does
("unexpected EOF", exit 1), never with a Python traceback."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

from tests.daemon import leftover_mounts, new_daemon

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_cli_streams_end_cleanly_when_darsed_dies(busybox_rootfs: str) -> None:
    d = new_daemon()
    try:
        d.start()
        d.import_busybox(busybox_rootfs)
        status, out = d.api("POST", "/containers/create?name=quiet",
                            {"Image": "busybox", "Cmd": ["sleep", "1000"]})
        cid = json.loads(out)["Id"]
        assert d.api("POST", f"/containers/{cid}/start")[0] == 204
        env = dict(os.environ, PYTHONPATH=ROOT, DARSE_CONFIG=str(d.base / "darse-config"))
        clients = {args: subprocess.Popen([sys.executable, "-m", "darse.cli", "-H", d.host,
                                           *args], stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, text=True, env=env)
                   for args in (("logs", "-f", "quiet"), ("events",), ("wait", "quiet"),
                                ("run", "--name", "fg", "busybox", "sleep", "1000"))}
        deadline = time.monotonic() + 30
        while True:  # `run` has started its container: it is in its stream and its wait
            status, out = d.api("GET", "/containers/fg/json")
            if status == 200 and json.loads(out)["State"]["Running"]:
                break
            assert time.monotonic() < deadline, out
            time.sleep(0.05)
        time.sleep(1.0)  # each has its stream open
        d.kill(signal.SIGKILL)
        for args, proc in clients.items():
            _, err = proc.communicate(timeout=20)
            assert "Traceback" not in err, (args, err)
            if args[0] == "run":  # docker: its wait for the container failed
                assert (proc.returncode, err.strip()) == (
                    125, "darse: error waiting for container: unexpected EOF"), err
            else:
                assert (proc.returncode, err.strip()) == (1, "unexpected EOF"), (args, err)
    finally:
        if d.proc.poll() is not None:
            d.start()  # back, to remove what it ran
        d.stop()
        assert leftover_mounts(str(d.base)) == []
        shutil.rmtree(d.base, ignore_errors=True)
