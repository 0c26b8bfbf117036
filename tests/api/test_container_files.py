"""Files of a container that darsed reads (its /etc/passwd and /etc/group) are the
container's to shape: a FIFO, a link out of the rootfs, a huge file. None may stop the
daemon, nor show it a host file."""

from __future__ import annotations

import json
import time

import pytest

from tests.cli.test_cli import darse, ok
from tests.daemon import Darsed

PLANTS = {
    # A FIFO: opening it for reading blocks until a writer comes, and none will.
    "fifo": "rm -f /etc/passwd && mkfifo /etc/passwd",
    # A link to the host's root-only file, absolute: it must resolve inside the rootfs.
    "link": "rm -f /etc/passwd && ln -s /etc/shadow /etc/passwd",
    # A device that never ends.
    "device": "rm -f /etc/group && ln -s /dev/zero /etc/group",
    # 3 GiB of nothing, without a newline (sparse: it takes no disk).
    "huge": "rm -f /etc/passwd && dd if=/dev/zero of=/etc/passwd bs=1 count=0 seek=3G",
}


def _restart_count(d: Darsed, name: str) -> int:
    return json.loads(ok(d, "inspect", name))[0]["RestartCount"]


@pytest.mark.parametrize("plant", sorted(PLANTS))
def test_planted_etc_files_never_stop_the_daemon(darsed: Darsed, plant: str) -> None:
    name = f"plant-{plant}"
    ok(darsed, "run", "-d", "--name", name, "--restart", "always", "busybox", "sh", "-c",
       f"if [ -e /planted ]; then exec sleep 1000; fi; touch /planted; {PLANTS[plant]}; "
       "exit 3")
    try:
        deadline = time.monotonic() + 30
        while _restart_count(darsed, name) < 1:  # the restart read the planted files
            assert time.monotonic() < deadline, "the restart policy never fired"
            time.sleep(0.1)
        # The daemon answers everything else meanwhile, within the CLI's own timeout.
        started = time.monotonic()
        assert ok(darsed, "run", "--rm", "busybox", "echo", "alive").strip() == "alive"
        assert name in ok(darsed, "ps", "-a", "--format", "{{.Names}}")
        assert time.monotonic() - started < 10
        # The container came back up as root: the planted file is no passwd entry.
        deadline = time.monotonic() + 10
        while True:
            state = json.loads(ok(darsed, "inspect", name))[0]["State"]
            if state["Running"]:
                break
            assert time.monotonic() < deadline, state
            time.sleep(0.1)
        # (Not `id`: it would read the planted passwd itself, and wait on the FIFO.)
        assert ok(darsed, "exec", name, "awk", "/^Uid:/ {print $2}",
                  "/proc/self/status").strip() == "0"
        # A name that only a host file (the link's target) could give is not found.
        if plant == "link":
            out = darse(darsed, "exec", "-u", "root", name, "true")
            assert out.returncode != 0
            assert "unable to find user root" in out.stderr, out.stderr
            assert "$" not in out.stderr  # nothing of a shadow file in the message
    finally:
        darse(darsed, "rm", "-f", name)

