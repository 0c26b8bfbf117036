"""Restart policies back off as dockerd's do (100 ms doubling up to a minute, reset
after 10 s of running), and a container waiting to restart is shown `restarting`,
refused by `rm` without force, stopped for good by `stop`."""

from __future__ import annotations

import json
import time

from darse.engine.restart import next_delay
from tests.daemon import Darsed


def _crashing(darsed: Darsed, name: str) -> str:
    status, out = darsed.api("POST", f"/containers/create?name={name}", {
        "Image": "busybox", "Cmd": ["false"],
        "HostConfig": {"RestartPolicy": {"Name": "always"}}})
    assert status == 201, out
    cid = json.loads(out)["Id"]
    assert darsed.api("POST", f"/containers/{cid}/start")[0] == 204
    return cid


def _inspect(darsed: Darsed, cid: str) -> dict:
    return json.loads(darsed.api("GET", f"/containers/{cid}/json")[1])


def test_delays_double_up_to_a_minute_and_reset_after_ten_seconds() -> None:
    delays, d = [], None
    for _ in range(12):
        d = next_delay(d, 1.0)
        delays.append(d)
    assert delays[:5] == [0.1, 0.2, 0.4, 0.8, 1.6]
    assert delays[-1] == 60.0 and max(delays) == 60.0
    assert next_delay(60.0, 10.0) == 0.1  # ran 10 s: the count starts again


def test_a_crashing_container_backs_off(darsed: Darsed) -> None:
    cid = _crashing(darsed, "crashy")
    time.sleep(3)
    # 0.1 + 0.2 + 0.4 + 0.8 + 1.6 s: five restarts in 3 s at most (dockerd: 5).
    count = _inspect(darsed, cid)["RestartCount"]
    assert 2 <= count <= 5, count
    darsed.api("DELETE", f"/containers/{cid}?force=1")


def test_restarting_is_shown_and_rm_refuses_it(docker: Darsed) -> None:
    cid = _crashing(docker, "restarting")
    deadline = time.monotonic() + 10
    while (state := _inspect(docker, cid)["State"])["Status"] != "restarting":
        assert time.monotonic() < deadline, state
        time.sleep(0.02)
    assert state["Restarting"] and state["Running"] and state["Pid"] == 0
    assert state["ExitCode"] == 1
    time.sleep(1.0)  # the back-off has grown past a second by now
    ps = docker.docker("ps", "-a", "--filter", "name=restarting", "--format", "{{.Status}}")
    assert ps.stdout.startswith("Restarting (1) "), ps.stdout
    status, out = docker.api("DELETE", f"/containers/{cid}")
    assert (status, json.loads(out)["message"]) == (
        409, f"You cannot remove a restarting container {cid}. Stop the container before "
             "attempting removal or force remove")
    waiting = f"Container {cid} is restarting, wait until the container is running"
    for method, path, body in (("POST", f"/containers/{cid}/exec", {"Cmd": ["true"]}),
                               ("POST", f"/containers/{cid}/pause", None),
                               ("GET", f"/containers/{cid}/top", None)):
        status, out = docker.api(method, path, body)
        assert (status, json.loads(out)["message"]) == (409, waiting), path
    status, out = docker.api("POST", f"/containers/{cid}/attach?stream=1&stdout=1")
    assert (status, json.loads(out)["message"]) == (
        409, "You cannot attach to a restarting container, wait until it is running")
    assert docker.api("POST", f"/containers/{cid}/stop")[0] == 204
    state = _inspect(docker, cid)["State"]
    assert (state["Status"], state["Running"], state["Restarting"]) == ("exited", False, False)
    count = _inspect(docker, cid)["RestartCount"]
    time.sleep(2)
    assert _inspect(docker, cid)["RestartCount"] == count  # stopped for good
    assert docker.api("DELETE", f"/containers/{cid}")[0] == 204


def test_rm_force_takes_a_restarting_container(darsed: Darsed) -> None:
    cid = _crashing(darsed, "forced")
    deadline = time.monotonic() + 10
    while _inspect(darsed, cid)["State"]["Status"] != "restarting":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert darsed.api("DELETE", f"/containers/{cid}?force=1")[0] == 204
    time.sleep(0.5)
    assert darsed.api("GET", f"/containers/{cid}/json")[0] == 404
