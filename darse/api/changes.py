"""A container's filesystem changes: GET /containers/{id}/changes (docker diff) and
POST /commit (docker commit)."""

from __future__ import annotations

from aiohttp import web

from darse.api.server import Routes, call, engine_of, json_response
from darse.engine import changes


def routes(r: Routes) -> None:
    r.add_get("/containers/{id}/changes", diff)


async def diff(request: web.Request) -> web.Response:
    return json_response(await call(changes.changes, engine_of(request),
                                    request.match_info["id"]))
