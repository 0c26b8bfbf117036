"""A large log is streamed: darsed's memory stays flat whatever the log's size, and
--tail reads from the end."""

from __future__ import annotations

import json
import threading
import time

from tests.daemon import Darsed, _http

LINES, WIDTH = 40_000, 799  # 32 MB of output, 38 MB of json-file log


def _peak_rss_reset(pid: int) -> None:
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM (proc(5))


def _peak_rss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def test_logs_of_a_big_log_keep_darsed_small(darsed: Darsed) -> None:
    script = f"i=0; l=$(printf '%0{WIDTH}d' 0); while [ $i -lt {LINES} ]; do " \
             "echo $l; i=$((i+1)); done"
    status, out = darsed.api("POST", "/containers/create?name=chatty", {
        "Image": "busybox", "Cmd": ["sh", "-c", script],
        "HostConfig": {"LogConfig": {"Type": "json-file", "Config": {"max-size": "1g"}}}})
    assert status == 201, out
    cid = json.loads(out)["Id"]
    assert darsed.api("POST", f"/containers/{cid}/start")[0] == 204
    status, out = darsed.api("POST", f"/containers/{cid}/wait")
    assert json.loads(out)["StatusCode"] == 0
    pid = darsed.proc.pid
    time.sleep(0.5)
    _peak_rss_reset(pid)
    before = _peak_rss(pid)
    sizes = []

    def read_all() -> None:
        status, body = _http(darsed.sock, "GET", f"/containers/{cid}/logs?stdout=1")
        assert status == 200
        sizes.append(len(body))

    readers = [threading.Thread(target=read_all) for _ in range(4)]
    for t in readers:
        t.start()
    for t in readers:
        t.join(120)
    grown = _peak_rss(pid) - before
    assert sizes == [LINES * (WIDTH + 1 + 8)] * 4  # each line framed: 8 bytes of header
    assert grown < 40 * 1024 * 1024, f"darsed grew by {grown // 2**20} MB"
    t0 = time.monotonic()
    status, body = darsed.api("GET", f"/containers/{cid}/logs?stdout=1&tail=2")
    assert status == 200 and len(body) == 2 * (WIDTH + 1 + 8)
    assert time.monotonic() - t0 < 2
    darsed.api("DELETE", f"/containers/{cid}")
