"""Log drivers as dockerd has them: json-file, local, none; any other refused at create
with dockerd's message, nothing recorded (messages checked against dockerd 20.10)."""

from __future__ import annotations

import json
import os

from tests.daemon import Darsed


def _create(darsed: Darsed, name: str, log_config: dict | None) -> tuple[int, dict]:
    body: dict = {"Image": "busybox", "Cmd": ["echo", f"hi-{name}"]}
    if log_config is not None:
        body["HostConfig"] = {"LogConfig": log_config}
    status, out = darsed.api("POST", f"/containers/create?name={name}", body)
    return status, json.loads(out)


def _run(darsed: Darsed, name: str, log_config: dict | None) -> dict:
    status, out = _create(darsed, name, log_config)
    assert status == 201, out
    cid = out["Id"]
    assert darsed.api("POST", f"/containers/{cid}/start")[0] == 204
    assert json.loads(darsed.api("POST", f"/containers/{cid}/wait")[1])["StatusCode"] == 0
    return json.loads(darsed.api("GET", f"/containers/{cid}/json")[1])


def test_none_stores_nothing_and_logs_says_so(docker: Darsed) -> None:
    doc = _run(docker, "lognone", {"Type": "none", "Config": {}})
    assert doc["HostConfig"]["LogConfig"] == {"Type": "none", "Config": {}}
    assert doc["LogPath"] == ""
    folder = os.path.join(docker.data_root, "containers", doc["Id"])
    assert not [f for f in os.listdir(folder) if ".log" in f]
    status, out = docker.api("GET", f"/containers/{doc['Id']}/logs?stdout=1")
    assert (status, json.loads(out)["message"]) == (
        501, "configured logging driver does not support reading")
    done = docker.docker("logs", "lognone")
    assert done.returncode == 1
    assert done.stderr.strip() == ("Error response from daemon: configured logging driver "
                                   "does not support reading")
    docker.api("DELETE", f"/containers/{doc['Id']}")


def test_local_and_json_file_are_read(darsed: Darsed) -> None:
    for name, config, shown in (
            ("loglocal", {"Type": "local", "Config": {"max-size": "1m"}},
             {"Type": "local", "Config": {"max-size": "1m"}}),
            ("logdefault", {"Type": "", "Config": {}}, {"Type": "json-file", "Config": {}}),
            ("lognoconfig", None, {"Type": "json-file", "Config": {}})):
        doc = _run(darsed, name, config)
        assert doc["HostConfig"]["LogConfig"] == shown
        status, out = darsed.api("GET", f"/containers/{doc['Id']}/logs?stdout=1")
        assert status == 200 and out[8:] == f"hi-{name}\n".encode()
        darsed.api("DELETE", f"/containers/{doc['Id']}")


def test_unknown_drivers_and_options_refused_at_create(darsed: Darsed) -> None:
    before = darsed.api("GET", "/containers/json?all=1")[1]
    for config, message in (
            ({"Type": "asdf"}, 'error looking up logging plugin asdf: plugin "asdf" not found'),
            ({"Type": "json-file", "Config": {"foo": "bar"}},
             "unknown log opt 'foo' for json-file log driver"),
            ({"Type": "local", "Config": {"labels": "x"}},
             "unknown log opt 'labels' for log driver local")):
        status, out = _create(darsed, "refused", config)
        assert (status, out["message"]) == (400, message)
    assert darsed.api("GET", "/containers/json?all=1")[1] == before
