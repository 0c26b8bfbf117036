"""Request bodies checked as dockerd decodes them (types, ranges, port specifications,
case-insensitive field names), refused with dockerd's message before anything is
recorded: one bad container can no longer break `ps -a` for everyone. Messages as
dockerd 20.10 gives them (it answered the type errors 500; later ones 400)."""

from __future__ import annotations

import json
import socket
import time

import pytest

from tests.daemon import Darsed, _http

REFUSED = [
    ({"Cmd": [1, 2]},
     "json: cannot unmarshal array into Go struct field ContainerConfigWrapper.Cmd of type "
     "string"),
    ({"Entrypoint": [1]},
     "json: cannot unmarshal array into Go struct field ContainerConfigWrapper.Entrypoint "
     "of type string"),
    ({"Env": "A=1"},
     "json: cannot unmarshal string into Go struct field ContainerConfigWrapper.Env of type "
     "[]string"),
    ({"Env": [1]},
     "json: cannot unmarshal number into Go struct field ContainerConfigWrapper.Env of type "
     "string"),
    ({"Labels": {"a": 1}},
     "json: cannot unmarshal number into Go struct field ContainerConfigWrapper.Labels of "
     "type string"),
    ({"Tty": "yes"},
     "json: cannot unmarshal string into Go struct field ContainerConfigWrapper.Tty of type "
     "bool"),
    ({"HostConfig": {"Memory": "x"}},
     "json: cannot unmarshal string into Go struct field HostConfig.HostConfig.Memory of "
     "type int64"),
    ({"HostConfig": {"Memory": 1.5}},
     "json: cannot unmarshal number 1.5 into Go struct field HostConfig.HostConfig.Memory of "
     "type int64"),
    ({"HostConfig": {"Memory": -5}}, "Minimum memory limit allowed is 6MB"),
    ({"HostConfig": {"PidsLimit": "x"}},
     "json: cannot unmarshal string into Go struct field HostConfig.HostConfig.PidsLimit of "
     "type int64"),
    ({"HostConfig": {"Dns": "8.8.8.8"}},
     "json: cannot unmarshal string into Go struct field HostConfig.HostConfig.Dns of type "
     "[]string"),
    ({"HostConfig": {"PortBindings": {"80/tcp": [{"HostPort": "99999"}]}}},
     'invalid port specification: "99999"'),
    ({"HostConfig": {"PortBindings": {"80/tcp": [{"HostPort": "abc"}]}}},
     'invalid port specification: "abc"'),
    ({"HostConfig": {"PortBindings": {"abc/tcp": [{"HostPort": "80"}]}}},
     'invalid port specification: "abc"'),
    # dockerd records these and lists them without ports; darse refuses them rather than
    # keep a port it could never publish (-P).
    ({"ExposedPorts": {"abc/tcp": {}}}, 'invalid port specification: "abc"'),
    ({"ExposedPorts": {"70000/tcp": {}}}, 'invalid port specification: "70000"'),
]


@pytest.mark.parametrize(("fields", "message"), REFUSED)
def test_bad_bodies_refused_before_recording(darsed: Darsed, fields: dict, message: str
                                             ) -> None:
    before = darsed.api("GET", "/containers/json?all=1")
    status, out = darsed.api("POST", "/containers/create",
                             {"Image": "busybox", "Cmd": ["true"], **fields})
    assert (status, json.loads(out)["message"]) == (400, message)
    assert darsed.api("GET", "/containers/json?all=1") == before


def test_field_names_match_whatever_their_case(darsed: Darsed) -> None:
    # docker-py sends CPURealtimePeriod; dockerd's decoder matches it to CpuRealtimePeriod.
    status, out = darsed.api("POST", "/containers/create?name=cased", {
        "image": "busybox", "cmd": ["true"],
        "hostconfig": {"CPURealtimePeriod": 0, "restartpolicy": {"name": "on-failure",
                                                                 "maximumretrycount": 2}}})
    assert status == 201, out
    doc = json.loads(darsed.api("GET", "/containers/cased/json")[1])
    assert doc["HostConfig"]["RestartPolicy"] == {"Name": "on-failure",
                                                  "MaximumRetryCount": 2}
    assert doc["HostConfig"]["CpuRealtimePeriod"] == 0 and doc["Path"] == "true"
    assert darsed.api("GET", "/containers/json?all=1")[0] == 200
    darsed.api("DELETE", "/containers/cased")


def test_exec_and_network_bodies(darsed: Darsed) -> None:
    status, out = darsed.api("POST", "/networks/create", {"Name": ""})
    assert (status, json.loads(out)["message"]) == (400, "invalid name: ")
    status, out = darsed.api("POST", "/networks/create", {"Name": 5})
    assert (status, json.loads(out)["message"]) == (
        400, "json: cannot unmarshal number into Go struct field NetworkCreateRequest.Name "
             "of type string")
    assert "" not in [n["Name"] for n in json.loads(darsed.api("GET", "/networks")[1])]
    status, out = darsed.api("POST", "/containers/create?name=execbody",
                             {"Image": "busybox", "Cmd": ["sleep", "100"]})
    cid = json.loads(out)["Id"]
    assert darsed.api("POST", f"/containers/{cid}/start")[0] == 204
    status, out = darsed.api("POST", f"/containers/{cid}/exec", {"Cmd": ["true"], "Tty": 1})
    assert (status, json.loads(out)["message"]) == (
        400, "json: cannot unmarshal number into Go struct field ExecConfig.Tty of type bool")
    darsed.api("DELETE", f"/containers/{cid}?force=1")


OTHER_BODIES = [
    ("/containers/{cid}/update", {"Memory": "x"}, "json: cannot unmarshal string into Go "
     "struct field UpdateConfig.Memory of type int64"),
    ("/containers/{cid}/update", {"RestartPolicy": {"Name": 5}}, "json: cannot unmarshal "
     "number into Go struct field RestartPolicy.RestartPolicy.Name of type string"),
    ("/containers/{cid}/exec", {"Cmd": "true"}, "json: cannot unmarshal string into Go "
     "struct field ExecConfig.Cmd of type []string"),
    ("/volumes/create", {"Name": 5}, "json: cannot unmarshal number into Go struct field "
     "VolumeCreateBody.Name of type string"),
    ("/volumes/create", {"Labels": "x"}, "json: cannot unmarshal string into Go struct field "
     "VolumeCreateBody.Labels of type map[string]string"),
    ("/networks/bridge/connect", {"Container": 5}, "json: cannot unmarshal number into Go "
     "struct field NetworkConnect.Container of type string"),
    ("/networks/bridge/connect", {"Container": "{cid}", "EndpointConfig": "x"},
     "json: cannot unmarshal string into Go struct field NetworkConnect.EndpointConfig of "
     "type network.EndpointSettings"),
    ("/networks/bridge/connect", {}, 'invalid name or ID supplied: ""'),
    ("/networks/bridge/disconnect", {"Container": "{cid}", "Force": "yes"},
     "json: cannot unmarshal string into Go struct field NetworkDisconnect.Force of type "
     "bool"),
    ("/auth", {"username": 5}, "json: cannot unmarshal number into Go struct field "
     "AuthConfig.username of type string"),
    ("/commit?container={cid}", {"Cmd": [1]}, "json: cannot unmarshal array into Go "
     "struct field Config.Cmd of type string"),
]


@pytest.mark.parametrize("path,body,message", OTHER_BODIES,
                         ids=[f"{p} {json.dumps(b)}" for p, b, _ in OTHER_BODIES])
def test_other_bodies_refused_and_nothing_changed(darsed: Darsed, path: str, body: dict,
                                                  message: str) -> None:
    status, out = darsed.api("POST", "/containers/create?name=otherbodies",
                             {"Image": "busybox", "Cmd": ["sleep", "100"]})
    cid = json.loads(out)["Id"]
    try:
        assert darsed.api("POST", f"/containers/{cid}/start")[0] == 204
        before = (darsed.api("GET", "/volumes")[1], darsed.api("GET", "/images/json")[1],
                  darsed.api("GET", f"/containers/{cid}/json")[1])
        body = json.loads(json.dumps(body).replace("{cid}", cid))
        status, out = darsed.api("POST", path.replace("{cid}", cid), body)
        assert (status, json.loads(out)["message"]) == (400, message)
        after = (darsed.api("GET", "/volumes")[1], darsed.api("GET", "/images/json")[1],
                 darsed.api("GET", f"/containers/{cid}/json")[1])
        assert after == before
    finally:
        darsed.api("DELETE", f"/containers/{cid}?force=1")


def test_log_times_refused_with_dockerds_words(darsed: Darsed) -> None:
    status, out = darsed.api("POST", "/containers/create?name=logtimes",
                             {"Image": "busybox", "Cmd": ["true"]})
    cid = json.loads(out)["Id"]
    try:
        for key in ("since", "until"):
            status, out = darsed.api("GET", f"/containers/{cid}/logs?stdout=1&{key}=bogus")
            assert (status, json.loads(out)["message"]) == (
                400, 'strconv.ParseInt: parsing "bogus": invalid syntax')
    finally:
        darsed.api("DELETE", f"/containers/{cid}?force=1")


def test_wait_with_a_bogus_condition_is_a_400_not_a_200(darsed: Darsed) -> None:
    status, out = darsed.api("POST", "/containers/create?name=waitbogus",
                             {"Image": "busybox", "Cmd": ["true"]})
    cid = json.loads(out)["Id"]
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(darsed.sock)
    s.sendall(f"POST /containers/{cid}/wait?condition=bogus HTTP/1.1\r\nHost: d\r\n"
              "Content-Length: 0\r\n\r\n".encode())
    head = s.recv(4096)
    s.close()
    assert head.startswith(b"HTTP/1.1 400"), head
    assert b'invalid condition: \\"bogus\\"' in head
    status, _ = _http(darsed.sock, "DELETE", f"/containers/{cid}")
    assert status == 204


def test_query_parameters_refused_with_dockerds_words(darsed: Darsed) -> None:
    status, out = darsed.api("POST", "/containers/create?name=queried",
                             {"Image": "busybox", "Cmd": ["sh", "-c", "echo hi; sleep 100"]})
    cid = json.loads(out)["Id"]
    assert darsed.api("POST", f"/containers/{cid}/start")[0] == 204
    for method, path, message in (
            ("POST", f"/containers/{cid}/stop?t=abc", 'strconv.Atoi: parsing "abc": invalid '
                                                      'syntax'),
            ("POST", f"/containers/{cid}/resize?h=abc&w=3", 'strconv.Atoi: parsing "abc": '
                                                            'invalid syntax'),
            ("POST", f"/containers/{cid}/resize", 'strconv.Atoi: parsing "": invalid syntax'),
            ("POST", f"/containers/{cid}/rename", "Neither old nor new names may be empty"),
            ("GET", "/containers/json?limit=abc", 'strconv.Atoi: parsing "abc": invalid '
                                                  'syntax')):
        status, out = darsed.api(method, path)
        assert (status, json.loads(out)["message"]) == (400, message), path
    assert json.loads(darsed.api("GET", f"/containers/{cid}/json")[1])["State"]["Running"]
    deadline = time.monotonic() + 10
    while not darsed.api("GET", f"/containers/{cid}/logs?stdout=1")[1].endswith(b"hi\n"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    status, out = darsed.api("GET", f"/containers/{cid}/logs?stdout=1&tail=abc")  # all
    assert status == 200 and out.endswith(b"hi\n")
    darsed.api("DELETE", f"/containers/{cid}?force=1")


def test_top_and_rename_refusals_in_dockerds_words(darsed: Darsed) -> None:
    status, out = darsed.api("POST", "/containers/create?name=toprename",
                             {"Image": "busybox", "Cmd": ["sleep", "100"]})
    cid = json.loads(out)["Id"]
    try:
        assert darsed.api("POST", f"/containers/{cid}/start")[0] == 204
        status, out = darsed.api("GET", f"/containers/{cid}/top?ps_args=--bogus")
        assert status == 500
        assert json.loads(out)["message"].startswith("ps: error: unknown gnu long option")
        status, out = darsed.api("GET", f"/containers/{cid}/top?ps_args=-o%20comm")
        assert (status, json.loads(out)["message"]) == (
            500, "Couldn't find PID field in ps output")
        status, out = darsed.api("POST", f"/containers/{cid}/rename?name=a/b")
        assert (status, json.loads(out)["message"]) == (
            400, "Error when allocating new name: Invalid container name (/a/b), only "
                 "[a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
    finally:
        darsed.api("DELETE", f"/containers/{cid}?force=1")
