"""kill -9 of darsed: containers run on; a new darsed shows them, their logs, and the
exit codes of those that ended meanwhile."""

from __future__ import annotations

import json
import shutil
import signal
import time

from tests.daemon import leftover_mounts, new_daemon


def test_containers_outlive_darsed(busybox_rootfs: str) -> None:
    d = new_daemon()
    try:
        d.start()
        d.import_busybox(busybox_rootfs)
        assert d.docker("run", "-d", "--name", "long", "-v", "kept:/kept", "busybox", "sh",
                        "-c", "echo data > /kept/f; echo alive; sleep 1000").returncode == 0
        assert d.docker("run", "-d", "--name", "short", "busybox", "sh", "-c",
                        "sleep 1; exit 9").returncode == 0
        pid = json.loads(d.docker("inspect", "long").stdout)[0]["State"]["Pid"]
        d.kill(signal.SIGKILL)  # no --cleanup runs: bridges and rules stay, as in real life
        time.sleep(1.5)  # short ends while no darsed listens
        assert open(f"/proc/{pid}/cmdline").read().startswith("sleep")
        d.start()
        ps = d.docker("ps", "-a", "--format", "{{.Names}} {{.Status}}").stdout
        lines = dict(line.split(" ", 1) for line in ps.splitlines())
        assert lines["long"].startswith("Up ")
        assert lines["short"].startswith("Exited (9)")
        assert d.docker("logs", "long").stdout == "alive\n"
        assert d.docker("exec", "long", "echo", "still here").stdout == "still here\n"
        # The volume's data survives darsed's death and the container's removal.
        assert d.docker("rm", "-f", "long").returncode == 0
        assert d.docker("run", "--rm", "-v", "kept:/k", "busybox", "cat", "/k/f").stdout \
            == "data\n"
        assert d.docker("volume", "rm", "kept").returncode == 0
    finally:
        d.stop()
    assert leftover_mounts(str(d.base)) == []
    shutil.rmtree(d.base, ignore_errors=True)
