"""A container that ends while a request about it is under way (its exit not yet
reported by the shim) is a container that is not running, in dockerd's words: kill and
pause say so (409), commit goes on without pausing it. docker-py's own tests commit a
container started with a command that ends at once."""

from __future__ import annotations

import json

from tests.daemon import Darsed


def _quick(darsed: Darsed) -> str:
    status, out = darsed.api("POST", "/containers/create",
                             {"Image": "busybox", "Cmd": ["true"]})
    assert status == 201, out
    cid = json.loads(out)["Id"]
    status, out = darsed.api("POST", f"/containers/{cid}/start")
    assert status == 204, out
    return cid


def test_kill_pause_and_commit_of_a_container_ending_meanwhile(darsed: Darsed) -> None:
    images = []
    try:
        for _ in range(15):
            cid = _quick(darsed)
            status, out = darsed.api("POST", f"/containers/{cid}/kill")
            assert status == 204 or (status == 409 and json.loads(out)["message"] ==
                                     f"Cannot kill container: {cid}: Container {cid} is "
                                     "not running"), (status, out)
            darsed.api("DELETE", f"/containers/{cid}?force=1")

            cid = _quick(darsed)
            status, out = darsed.api("POST", f"/containers/{cid}/pause")
            assert status == 204 or (status == 409 and json.loads(out)["message"] ==
                                     f"Container {cid} is not running"), (status, out)
            darsed.api("POST", f"/containers/{cid}/unpause")
            darsed.api("DELETE", f"/containers/{cid}?force=1")

            cid = _quick(darsed)
            status, out = darsed.api("POST", f"/commit?container={cid}&pause=1")
            assert status == 201, out
            images.append(json.loads(out)["Id"])
            darsed.api("DELETE", f"/containers/{cid}?force=1")
    finally:
        for image in images:
            darsed.api("DELETE", f"/images/{image}")
