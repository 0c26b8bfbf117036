"""Every create completes or leaves nothing, and a record that went wrong keeps neither
darsed's start nor its --cleanup stop from working (issue 10, item 3)."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import threading
from collections.abc import Iterator

import pytest

from tests.daemon import Darsed, leftover_mounts, new_daemon


def _links() -> set[str]:
    out = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    return {line.split(":")[1].strip().split("@")[0] for line in out.splitlines()}


@pytest.fixture
def fresh() -> Iterator[Darsed]:
    d = new_daemon()
    yield d
    d.stop()
    assert leftover_mounts(str(d.base)) == []
    shutil.rmtree(d.base, ignore_errors=True)


def test_concurrent_creates_of_one_name_make_one_network(fresh: Darsed) -> None:
    fresh.start()
    answers: list[tuple[int, bytes]] = []
    threads = [threading.Thread(target=lambda: answers.append(
        fresh.api("POST", "/networks/create", {"Name": "same"}))) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(status for status, _ in answers) == [201] + [409] * 5, answers
    assert {json.loads(out)["message"] for status, out in answers if status == 409} == {
        "network with name same already exists"}
    names = [n["Name"] for n in json.loads(fresh.api("GET", "/networks")[1])]
    assert names.count("same") == 1
    assert fresh.api("DELETE", "/networks/same")[0] == 204
    made = {f"darse-{json.loads(out)['Id'][:9]}" for status, out in answers if status == 201}
    assert made & _links() == set()  # no bridge left by a create that said it made one


def test_a_broken_network_record_keeps_darsed_working(fresh: Darsed) -> None:
    fresh.start()
    assert fresh.api("POST", "/networks/create", {"Name": "good"})[0] == 201
    fresh.kill()  # --cleanup: its bridges go
    assert fresh.proc.returncode == 0
    db = sqlite3.connect(os.path.join(fresh.data_root, "state.db"))
    doc = json.loads(db.execute("SELECT doc FROM networks WHERE name='good'").fetchone()[0])
    broken = dict(doc, Name="broken", Id="b" * 64, IPAM={"Driver": "default", "Config": []})
    db.execute("INSERT INTO networks VALUES (?,?,?)", (broken["Id"], "broken",
                                                       json.dumps(broken)))
    db.commit()
    db.close()
    fresh.start()  # the broken one is logged, the others are up
    assert b"network broken" in (fresh.base / "darsed.log").read_bytes()
    status, out = fresh.api("POST", "/networks/create", {"Name": "other"})
    assert status == 201, out
    assert fresh.api("DELETE", "/networks/other")[0] == 204
    fresh.kill()  # the --cleanup stop goes through the broken record
    assert fresh.proc.returncode == 0
    fresh.start()
    assert fresh.api("DELETE", "/networks/broken")[0] == 204
    assert fresh.api("DELETE", "/networks/good")[0] == 204


def test_a_volume_folder_without_its_record_does_not_block_the_name(fresh: Darsed) -> None:
    # What a crash between the folder and the record leaves.
    os.makedirs(os.path.join(fresh.data_root, "volumes", "half", "_data"))
    fresh.start()
    status, out = fresh.api("POST", "/volumes/create", {"Name": "half"})
    assert status == 201, out
    assert fresh.api("DELETE", "/volumes/half")[0] == 204
    assert not os.path.exists(os.path.join(fresh.data_root, "volumes", "half"))


def test_a_volume_whose_mount_fails_leaves_nothing_mounted(fresh: Darsed,
                                                            busybox_rootfs: str) -> None:
    fresh.start()
    fresh.import_busybox(busybox_rootfs)
    status, out = fresh.api("POST", "/volumes/create", {
        "Name": "bad", "DriverOpts": {"type": "tmpfs", "device": "tmpfs", "o": "size=bogus"}})
    assert status == 201, out  # as dockerd: the options are the kernel's to judge, at use
    status, out = fresh.api("POST", "/containers/create?name=user",
                            {"Image": "busybox", "Cmd": ["true"],
                             "HostConfig": {"Binds": ["bad:/data"]}})
    cid = json.loads(out)["Id"]
    status, out = fresh.api("POST", f"/containers/{cid}/start")
    target = os.path.join(fresh.data_root, "volumes", "bad", "_data")
    assert (status, json.loads(out)["message"]) == (500, (
        f"error while mounting volume '{target}': failed to mount local volume: mount "
        f"tmpfs:{target}, data: size=bogus: invalid argument"))
    assert leftover_mounts(str(fresh.base)) == []
    assert json.loads(fresh.api("GET", f"/containers/{cid}/json")[1])["State"]["Status"] \
        == "created"
    assert fresh.api("DELETE", f"/containers/{cid}")[0] == 204
    assert fresh.api("DELETE", "/volumes/bad")[0] == 204


def test_a_bridge_name_the_kernel_or_nftables_refuses(fresh: Darsed) -> None:
    fresh.start()
    for bad in ("a b", "a/b", "..", "a:b"):  # dockerd 20.10: 500, its netlink error
        status, out = fresh.api("POST", "/networks/create", {
            "Name": "n", "Options": {"com.docker.network.bridge.name": bad}})
        assert (status, json.loads(out)["message"]) == (500, "invalid argument"), out
    status, out = fresh.api("POST", "/networks/create", {
        "Name": "n", "Options": {"com.docker.network.bridge.name": 'x"y'}})
    assert (status, json.loads(out)["message"]) == (
        400, "bridge name x\"y holds a quote: darse's nftables rules cannot name it"), out
    assert fresh.api("GET", "/networks/n")[0] == 404
    assert {"a b", "..", "a:b", 'x"y'} & _links() == set()
