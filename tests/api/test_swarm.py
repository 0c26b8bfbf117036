"""Swarm-mode endpoints answer as a dockerd in no swarm does (checked against dockerd
20.10): clients such as docker-py call them and expect those answers."""

from __future__ import annotations

import json

import pytest

from tests.daemon import Darsed

NOT_MANAGER = ('This node is not a swarm manager. Use "docker swarm init" or "docker swarm '
               'join" to connect this node to swarm and try again.')


@pytest.mark.parametrize("method,path", [
    ("GET", "/swarm"), ("GET", "/swarm/unlockkey"), ("POST", "/swarm/unlock"),
    ("GET", "/nodes"), ("GET", "/nodes/x"), ("DELETE", "/nodes/x"),
    ("POST", "/nodes/x/update?version=1"), ("GET", "/services"),
    ("POST", "/services/create"), ("GET", "/services/x"), ("DELETE", "/services/x"),
    ("POST", "/services/x/update?version=3"), ("GET", "/services/x/logs?stdout=1"),
    ("GET", "/tasks"), ("GET", "/tasks/x"), ("GET", "/tasks/x/logs?stderr=1"),
    ("GET", "/secrets"), ("POST", "/secrets/create"), ("GET", "/secrets/x"),
    ("DELETE", "/secrets/x"), ("POST", "/secrets/x/update?version=1"),
    ("GET", "/configs"), ("POST", "/configs/create"), ("GET", "/configs/x"),
    ("DELETE", "/configs/x"), ("POST", "/configs/x/update?version=1"),
    ("POST", "/swarm/update?version=1"), ("GET", "/v1.41/nodes"),
])
def test_not_a_manager(darsed: Darsed, method: str, path: str) -> None:
    status, body = darsed.api(method, path)
    assert (status, json.loads(body)) == (503, {"message": NOT_MANAGER})


def test_leave_and_bad_input(darsed: Darsed) -> None:
    for path in ("/swarm/leave", "/swarm/leave?force=1", "/v1.24/swarm/leave"):
        status, body = darsed.api("POST", path)
        assert (status, json.loads(body)) == (503, {"message": "This node is not part of a "
                                                               "swarm"})
    cases = [
        ("/swarm/init", {}, 400, 'invalid ListenAddr "": invalid empty address'),
        ("/swarm/join", {"ListenAddr": "0.0.0.0:2377"}, 400,
         "at least 1 RemoteAddr is required to join"),
        ("/nodes/x/update", None, 400, "invalid node version '': strconv.ParseUint: "
                                       'parsing "": invalid syntax'),
        ("/swarm/update?version=v", None, 400, "invalid swarm version 'v': "
                                               'strconv.ParseUint: parsing "v": invalid syntax'),
        ("/secrets/x/update", None, 400, "invalid secret version"),
        ("/configs/x/update", None, 400, "invalid config version"),
    ]
    for path, body, code, message in cases:
        status, out = darsed.api("POST", path, body)
        assert (status, json.loads(out)["message"]) == (code, message), path
    status, out = darsed.api("GET", "/services/x/logs")
    assert (status, json.loads(out)["message"]) == (
        500, "Bad parameters: you must choose at least one stream")
    # Not in swarm mode, and cannot be: init with an address is refused, nothing made.
    status, out = darsed.api("POST", "/swarm/init", {"ListenAddr": "0.0.0.0:2377"})
    assert status == 503 and "no swarm mode" in json.loads(out)["message"]
    status, out = darsed.api("GET", "/info")
    assert json.loads(out)["Swarm"]["LocalNodeState"] == "inactive"


def test_docker_cli(docker: Darsed) -> None:
    leave = docker.docker("swarm", "leave", "--force")
    assert (leave.returncode, leave.stderr) == (
        1, "Error response from daemon: This node is not part of a swarm\n")
    for args in (("node", "ls"), ("service", "ls"), ("secret", "ls"), ("config", "ls"),
                 ("service", "rm", "x")):
        done = docker.docker(*args)
        assert (done.returncode, done.stderr) == (
            1, f"Error response from daemon: {NOT_MANAGER}\n"), args
    assert " Swarm: inactive\n" in docker.docker("info").stdout
