"""/containers/{id}/archive: HEAD (a path's stat), GET (a path as a tar), PUT (a tar
unpacked into a folder). The stat travels base64-encoded in X-Docker-Container-Path-Stat,
as docker cp reads it."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from aiohttp import web

from darse.api import streams
from darse.api.server import Routes, call, engine_of, query_bool, spool_body
from darse.engine import archive

STAT_HEADER = "X-Docker-Container-Path-Stat"


def routes(r: Routes) -> None:
    r.add_head("/containers/{id}/archive", head)
    r.add_get("/containers/{id}/archive", get)
    r.add_put("/containers/{id}/archive", put)


def _stat_header(info: dict[str, Any]) -> dict[str, str]:
    return {STAT_HEADER: base64.b64encode(json.dumps(info, separators=(",", ":"))
                                          .encode()).decode()}


async def head(request: web.Request) -> web.Response:
    info = await call(archive.path_stat, engine_of(request), request.match_info["id"],
                      request.query.get("path", ""))
    return web.Response(status=200, headers=_stat_header(info))


class _Chunks:
    """write() hands chunks to the response; Cancelled once the client went."""

    def __init__(self, put: Callable[[bytes], None]) -> None:
        self.put = put

    def write(self, data: bytes) -> int:
        self.put(bytes(data))
        return len(data)


async def get(request: web.Request) -> web.StreamResponse:
    engine = engine_of(request)
    ref, path = request.match_info["id"], request.query.get("path", "")
    info = await call(archive.path_stat, engine, ref, path)  # errors before the 200
    resp = web.StreamResponse(headers={"Content-Type": "application/x-tar",
                                       **_stat_header(info)})
    await resp.prepare(request)
    # From the archive's own thread through an asyncio queue: no executor thread held.
    await streams.from_thread(request, resp, lambda put: archive.archive_path(
        engine, ref, path, _Chunks(put)), bytes)
    return resp


async def put(request: web.Request) -> web.Response:
    engine = engine_of(request)
    body = await spool_body(request)
    try:
        await call(archive.extract, engine, request.match_info["id"],
                   request.query.get("path", ""), body,
                   query_bool(request, "noOverwriteDirNonDir"),
                   query_bool(request, "copyUIDGID"))
    finally:
        body.close()
    return web.Response(status=200)
