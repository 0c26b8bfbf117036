"""The container lifecycle through the engine (what the API calls)."""

from __future__ import annotations

import os
import time

import pytest

from darse.engine import logs
from darse.engine.engine import Engine
from darse.errors import Conflict, InvalidArgument, NotFound


def run(engine: Engine, cmd: list[str], **config) -> str:
    hc = config.pop("HostConfig", {})
    cid = engine.create({"Image": "busybox", "Cmd": cmd, **config, "HostConfig": hc},
                        name=config.pop("name", None))["Id"]
    engine.start(cid)
    return cid


def test_run_wait_logs_remove(engine: Engine) -> None:
    cid = run(engine, ["sh", "-c", "echo hello; echo oops >&2; exit 3"])
    assert engine.wait(cid) == {"StatusCode": 3, "Error": None}
    doc = engine.inspect(cid)
    assert doc["State"]["Status"] == "exited" and doc["State"]["ExitCode"] == 3
    records = logs.read(doc["LogPath"])
    assert [(r["stream"], r["log"]) for r in records] == [("stdout", "hello\n"),
                                                          ("stderr", "oops\n")]
    assert not os.path.ismount(doc["GraphDriver"]["Data"]["MergedDir"])
    engine.remove(cid)
    with pytest.raises(NotFound, match=f"No such container: {cid}"):
        engine.inspect(cid)
    # Its folder is out of the containers' at once (deleted in the background).
    assert cid not in os.listdir(engine.containers_dir)
    deadline = time.monotonic() + 10
    while os.listdir(engine.containers_dir) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert os.listdir(engine.containers_dir) == []


def test_names_hostname_and_conflicts(engine: Engine) -> None:
    cid = run(engine, ["sleep", "60"], name="c1", Hostname="host1")
    doc = engine.inspect("c1")
    assert doc["Id"] == cid and doc["Name"] == "/c1" and doc["State"]["Running"]
    assert open(doc["HostnamePath"]).read() == "host1\n"
    with pytest.raises(Conflict, match='The container name "/c1" is already in use'):
        engine.create({"Image": "busybox", "Cmd": ["true"]}, name="c1")
    with pytest.raises(InvalidArgument, match=r"Invalid container name \(bad name\)"):
        engine.create({"Image": "busybox", "Cmd": ["true"]}, name="bad name")
    with pytest.raises(NotFound, match="No such image: nosuch:latest"):
        engine.create({"Image": "nosuch:latest", "Cmd": ["true"]})
    with pytest.raises(Conflict, match="You cannot remove a running container"):
        engine.remove("c1")
    assert [c["Names"] for c in engine.list()] == [["/c1"]]
    assert len(engine.containers.all()) == 1  # the refused creates left nothing


def test_stop_start_restart(engine: Engine) -> None:
    cid = run(engine, ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.1; done"])
    time.sleep(0.2)
    t0 = time.monotonic()
    assert engine.stop(cid, timeout=5)
    assert time.monotonic() - t0 < 4
    assert engine.inspect(cid)["State"]["ExitCode"] == 0
    assert engine.start(cid)
    assert engine.inspect(cid)["State"]["Running"]
    assert not engine.start(cid)  # already running: the API's 304
    # A process that ignores SIGTERM is killed after the timeout.
    engine.remove(cid, force=True)
    cid = run(engine, ["sh", "-c", "trap '' TERM; sleep 60"])
    time.sleep(0.2)
    t0 = time.monotonic()
    engine.stop(cid, timeout=1)
    assert 0.9 < time.monotonic() - t0 < 5
    assert engine.inspect(cid)["State"]["ExitCode"] == 137


def test_rm_force_kills_at_once(engine: Engine) -> None:
    cid = run(engine, ["sh", "-c", "trap '' TERM; sleep 60"])
    t0 = time.monotonic()
    engine.remove(cid, force=True)
    assert time.monotonic() - t0 < 2
    assert engine.containers.all() == []


def test_auto_remove_and_restart_policy(engine: Engine) -> None:
    cid = run(engine, ["true"], HostConfig={"AutoRemove": True})
    deadline = time.monotonic() + 5
    while engine.containers.get(cid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert engine.containers.get(cid) is None
    cid = run(engine, ["sh", "-c", "exit 1"],
              HostConfig={"RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 2}})
    deadline = time.monotonic() + 10
    while engine.inspect(cid)["RestartCount"] < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    engine.wait(cid)
    time.sleep(0.3)
    assert engine.inspect(cid)["RestartCount"] == 2


def test_start_failure_reports_and_keeps_created(engine: Engine) -> None:
    cid = engine.create({"Image": "busybox", "Cmd": ["nosuchcommand"]})["Id"]
    with pytest.raises(Exception, match='executable file not found'):
        engine.start(cid)
    doc = engine.inspect(cid)
    assert doc["State"]["Status"] == "created" and doc["State"]["ExitCode"] == 127
    assert not os.path.ismount(doc["GraphDriver"]["Data"]["MergedDir"])


def test_user_and_exec(engine: Engine) -> None:
    cid = run(engine, ["sleep", "60"], User="nobody")
    exec_id = engine.exec_create(cid, {"Cmd": ["id"], "AttachStdout": True})
    ex, process = engine.exec_process(exec_id)
    assert process["user"] == {"uid": 65534, "gid": 65534, "additionalGids": [65534]}


def test_unknown_user_fails_at_start(engine: Engine) -> None:
    cid = engine.create({"Image": "busybox", "Cmd": ["true"], "User": "ghost"})["Id"]
    with pytest.raises(InvalidArgument, match="unable to find user ghost: no matching entries"):
        engine.start(cid)


def test_state_survives_a_new_engine(engine: Engine) -> None:
    """A restarted darsed re-adopts running containers and learns exits it missed."""
    from darse.engine.engine import Engine as NewEngine

    long = run(engine, ["sleep", "60"], name="long")
    short = run(engine, ["sh", "-c", "sleep 0.5; exit 4"], name="short")
    engine.close()
    time.sleep(1.0)  # short exits while nobody listens
    again = NewEngine(engine.config)
    again.startup()
    assert again.inspect("long")["State"]["Running"]
    assert again.inspect("short")["State"]["ExitCode"] == 4
    again.remove(long, force=True)
    again.remove(short, force=True)
    again.close()
