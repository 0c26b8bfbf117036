"""Stops by the hundred (a `compose down`) wait out their grace periods without holding
darsed: the rest of the API answers meanwhile."""

from __future__ import annotations

import asyncio
import json

from darse.api.server import EXECUTOR_THREADS
from tests.daemon import Darsed
from tests.faults.streams import open_stream, timed_get

COUNT = EXECUTOR_THREADS + 16  # more stops than darsed has threads


def test_stops_waiting_their_grace_period_hold_nothing(darsed: Darsed) -> None:
    ids = []
    for i in range(COUNT):
        # busybox's sleep as pid 1 ignores SIGTERM: each stop waits its full grace period.
        status, out = darsed.api("POST", f"/containers/create?name=stubborn{i}", {
            "Image": "busybox", "Cmd": ["sleep", "1000"],
            "HostConfig": {"NetworkMode": "none"}})
        assert status == 201, out
        ids.append(json.loads(out)["Id"])
        assert darsed.api("POST", f"/containers/{ids[-1]}/start")[0] == 204

    async def scenario() -> tuple[list[float], list[int], float]:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        pending = [asyncio.ensure_future(open_stream(darsed.sock, "POST",
                                                     f"/containers/{cid}/stop?t=3", 30))
                   for cid in ids]  # each answers once its container is stopped
        await asyncio.sleep(1)  # every stop has sent its signal and waits
        times = [(await timed_get(darsed.sock, "/containers/json", 10))[0] for _ in range(5)]
        stops = await asyncio.gather(*pending)
        took = loop.time() - t0
        for s in stops:
            s.close()
        return times, [s.status for s in stops], took

    times, statuses, took = asyncio.run(scenario())
    assert max(times) < 0.5, times  # before: the first waited 2.6 s for a thread
    assert statuses == [204] * COUNT
    assert took < 20
    for cid in ids:
        state = json.loads(darsed.api("GET", f"/containers/{cid}/json")[1])["State"]
        assert (state["Running"], state["ExitCode"]) == (False, 137)
        darsed.api("DELETE", f"/containers/{cid}")
