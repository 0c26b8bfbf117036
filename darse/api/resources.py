"""A container's resources: POST /containers/{id}/update (limits and restart policy of
a live container) and GET /containers/{id}/stats."""

from __future__ import annotations

from aiohttp import web

from darse.api.server import Routes, call, engine_of, json_response, read_json
from darse.engine import update as updates


def routes(r: Routes) -> None:
    r.add_post("/containers/{id}/update", update)


async def update(request: web.Request) -> web.Response:
    body = await read_json(request)
    return json_response(await call(updates.update, engine_of(request),
                                    request.match_info["id"], body))
