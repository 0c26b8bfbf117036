"""The API under many connections, large headers and internal failures: dockerd's
limits (listen backlog 4096, 1 MB of headers), one clear message for a 500 (the
traceback in darsed's log), exec records gone with their container."""

from __future__ import annotations

import json
import os
import shutil
import socket

from tests.daemon import Darsed, _http


def test_a_thousand_simultaneous_connects_all_get_in(darsed: Darsed) -> None:
    socks, refused = [], 0
    try:
        for _ in range(1000):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.setblocking(False)
            if s.connect_ex(darsed.sock) != 0:  # EAGAIN: the listen queue was full
                refused += 1
            socks.append(s)
    finally:
        for s in socks:
            s.close()
    assert refused == 0
    assert darsed.api("GET", "/_ping")[0] == 200


def test_request_headers_up_to_a_megabyte(darsed: Darsed) -> None:
    big = "a" * (900 * 1024)  # docker-py's X-Registry-Auth of a config with many registries
    status, _ = _http(darsed.sock, "GET", "/_ping", headers={"X-Registry-Auth": big})
    assert status == 200
    status, _ = _http(darsed.sock, "GET", "/_ping?" + "x=" + "b" * (500 * 1024))
    assert status == 200


def test_an_internal_error_is_one_clear_message(darsed: Darsed) -> None:
    status, out = darsed.api("POST", "/containers/create?name=broken",
                             {"Image": "busybox", "Cmd": ["true"]})
    cid = json.loads(out)["Id"]
    log = json.loads(darsed.api("GET", f"/containers/{cid}/json")[1])["LogPath"]
    os.mkdir(log)  # a damaged data root: the log file is a folder
    try:
        status, out = darsed.api("GET", f"/containers/{cid}/logs?stdout=1")
        message = json.loads(out)["message"]
        assert status == 500
        assert message == f"Is a directory: {log}"
        status, out = darsed.api("GET", f"/containers/{cid}/logs?stdout=1&tail=3")
        assert status == 500 and "Error(" not in json.loads(out)["message"]
        daemon_log = (darsed.base / "darsed.log").read_text(errors="replace")
        assert "Traceback" in daemon_log and "IsADirectoryError" in daemon_log
    finally:
        shutil.rmtree(log)
    darsed.api("DELETE", f"/containers/{cid}")


def test_exec_records_go_with_their_container(darsed: Darsed) -> None:
    status, out = darsed.api("POST", "/containers/create?name=execd",
                             {"Image": "busybox", "Cmd": ["sleep", "1000"]})
    cid = json.loads(out)["Id"]
    assert darsed.api("POST", f"/containers/{cid}/start")[0] == 204
    ran = json.loads(darsed.api("POST", f"/containers/{cid}/exec", {"Cmd": ["true"]})[1])["Id"]
    assert darsed.api("POST", f"/exec/{ran}/start", {"Detach": True})[0] == 200
    idle = json.loads(darsed.api("POST", f"/containers/{cid}/exec", {"Cmd": ["true"]})[1])["Id"]
    assert darsed.api("DELETE", f"/containers/{cid}?force=1")[0] == 204
    for exec_id in (ran, idle):
        status, out = darsed.api("GET", f"/exec/{exec_id}/json")
        assert (status, json.loads(out)["message"]) == (
            404, f"No such exec instance: {exec_id}")
