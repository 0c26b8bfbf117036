"""A container's resources: POST /containers/{id}/update (limits and restart policy of
a live container) and GET /containers/{id}/stats."""

from __future__ import annotations

import asyncio
import json

from aiohttp import web

from darse.api.server import Routes, call, engine_of, json_response, query_bool, read_json
from darse.engine import stats as samples
from darse.engine import update as updates

INTERVAL = 1.0  # seconds between two samples, as dockerd's collector


def routes(r: Routes) -> None:
    r.add_post("/containers/{id}/update", update)
    r.add_get("/containers/{id}/stats", stats)


async def update(request: web.Request) -> web.Response:
    body = await read_json(request)
    return json_response(await call(updates.update, engine_of(request),
                                    request.match_info["id"], body))


async def stats(request: web.Request) -> web.StreamResponse:
    engine = engine_of(request)
    doc = await call(engine.containers.find, request.match_info["id"])
    cid = doc["Id"]
    if not query_bool(request, "stream", True):
        current = await call(samples.sample, engine, doc)
        if not query_bool(request, "one-shot") and current["read"] != samples.ZERO_TIME:
            await asyncio.sleep(INTERVAL)  # a second reading, for the CPU's delta
            doc = await call(engine.containers.get, cid) or doc
            current = samples.with_previous(await call(samples.sample, engine, doc), current)
        return json_response(current)
    resp = web.StreamResponse(headers={"Content-Type": "application/json"})
    await resp.prepare(request)
    previous = None
    while (doc := await call(engine.containers.get, cid)) is not None:
        current = samples.with_previous(await call(samples.sample, engine, doc), previous)
        await resp.write(json.dumps(current).encode() + b"\n")
        previous = current
        await asyncio.sleep(INTERVAL)
    return resp
