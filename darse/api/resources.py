"""A container's resources: POST /containers/{id}/update (limits and restart policy of
a live container) and GET /containers/{id}/stats."""

from __future__ import annotations

import asyncio
import json

from aiohttp import web

from darse.api.server import Routes, call, engine_of, json_response, query_bool, read_json
from darse.engine import stats as samples
from darse.engine import update as updates

INTERVAL = 1.0  # seconds between two samples of a stream, as dockerd's collector
# stream=false: the CPU's delta over half a second, so that `stats --no-stream` of 1000
# containers (a request each, all waiting their window at once) answers within a second.
NO_STREAM_INTERVAL = 0.5


def routes(r: Routes) -> None:
    r.add_post("/containers/{id}/update", update)
    r.add_get("/containers/{id}/stats", stats)


async def update(request: web.Request) -> web.Response:
    from darse.api import models

    body = models.CONTAINER_UPDATE.decode(await read_json(request))
    return json_response(await call(updates.update, engine_of(request),
                                    request.match_info["id"], body))


async def stats(request: web.Request) -> web.StreamResponse:
    engine = engine_of(request)
    if not query_bool(request, "stream", True):
        # The record found in the executor, the readings made here: a reading is a few
        # reads of cgroup and proc files (no disk), and 1000 requests at once from
        # `stats --no-stream` spent more on trips to the executor than on reading.
        doc = await call(engine.containers.find, request.match_info["id"])
        one_shot = query_bool(request, "one-shot")
        current = samples.sample(engine, doc, cpu_only=not one_shot)
        if not one_shot and current["read"] != samples.ZERO_TIME:
            await asyncio.sleep(NO_STREAM_INTERVAL)  # a second reading, for the CPU's delta
            doc = engine.containers.get(doc["Id"]) or doc
            current = samples.with_previous(samples.sample(engine, doc), current)
        return json_response(current)
    doc = await call(engine.containers.find, request.match_info["id"])
    cid = doc["Id"]
    resp = web.StreamResponse(headers={"Content-Type": "application/json"})
    await resp.prepare(request)
    previous = None
    while (doc := await call(engine.containers.get, cid)) is not None:
        current = samples.with_previous(await call(samples.sample, engine, doc), previous)
        await resp.write(json.dumps(current).encode() + b"\n")
        previous = current
        await asyncio.sleep(INTERVAL)
    return resp
