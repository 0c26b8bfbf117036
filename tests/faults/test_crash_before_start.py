"""darsed killed between the runtime's create and its start (issue 10, item 5): the
restarted darsed deletes the container the supervisor holds half-made, frees its rootfs
mount and namespace, and the next start runs the container for good."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import time

from darse.shim.client import ShimClient
from tests.daemon import leftover_mounts, new_daemon


def _shim_entry(shim: ShimClient, cid: str) -> dict | None:
    return next((c for c in shim.call("list")["containers"] if c["id"] == cid), None)


def test_a_container_created_but_not_started_at_a_crash(busybox_rootfs: str) -> None:
    d = new_daemon()
    try:
        d.start()
        d.import_busybox(busybox_rootfs)
        status, out = d.api("POST", "/containers/create?name=half",
                            {"Image": "busybox", "Cmd": ["sleep", "1000"]})
        cid = json.loads(out)["Id"]
        assert d.api("POST", f"/containers/{cid}/start")[0] == 204
        doc = json.loads(d.api("GET", f"/containers/{cid}/json")[1])
        d.kill(signal.SIGKILL)
        # What darsed's death right after the supervisor's create leaves: the runtime's
        # container made and waiting for its start, its rootfs mounted and its network
        # namespace pinned, the record not running (here from a run before).
        shim = ShimClient(d.exec_root)
        shim.call("kill", id=cid, signal=9)
        deadline = time.monotonic() + 10
        while _shim_entry(shim, cid)["running"]:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        shim.call("delete", id=cid)
        bundle = os.path.join(d.data_root, "containers", cid)
        shim.call("create", id=cid, bundle=bundle, tty=False, stdin=False,
                  log_path=doc["LogPath"])
        assert _shim_entry(shim, cid)["status"] == "created"
        db = sqlite3.connect(os.path.join(d.data_root, "state.db"))
        doc["State"].update(Status="exited", Running=False, Pid=0, ExitCode=137)
        db.execute("UPDATE containers SET doc=? WHERE id=?", (json.dumps(doc), cid))
        db.commit()
        db.close()

        d.start()
        assert _shim_entry(shim, cid) is None  # reconciled: the half-made one deleted
        assert not os.path.ismount(os.path.join(bundle, "rootfs"))
        assert not os.path.exists(os.path.join(d.exec_root, "netns", cid))
        assert d.api("POST", f"/containers/{cid}/start")[0] == 204
        time.sleep(1.0)  # what the crash left must not end the new run
        state = json.loads(d.api("GET", f"/containers/{cid}/json")[1])["State"]
        assert (state["Status"], state["Running"], state["ExitCode"]) == ("running", True, 0)
        assert d.api("POST", f"/containers/{cid}/stop?t=0")[0] == 204
        state = json.loads(d.api("GET", f"/containers/{cid}/json")[1])["State"]
        assert (state["Status"], state["ExitCode"]) == ("exited", 137)
    finally:
        if d.proc is not None and d.proc.poll() is not None:
            d.start()
        d.stop()
        assert leftover_mounts(str(d.base)) == []
        shutil.rmtree(d.base, ignore_errors=True)
