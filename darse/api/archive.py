"""/containers/{id}/archive: HEAD (a path's stat), GET (a path as a tar), PUT (a tar
unpacked into a folder). The stat travels base64-encoded in X-Docker-Container-Path-Stat,
as docker cp reads it."""

from __future__ import annotations

import asyncio
import base64
import json
import queue
import threading
from typing import Any

from aiohttp import web

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
    """write() into a bounded queue the response drains; stops when the client went."""

    def __init__(self, chunks: queue.Queue, gone: threading.Event) -> None:
        self.chunks, self.gone = chunks, gone

    def write(self, data: bytes) -> int:
        while True:
            if self.gone.is_set():
                raise BrokenPipeError("the client went away")
            try:
                self.chunks.put(bytes(data), timeout=0.5)
                return len(data)
            except queue.Full:
                continue


async def get(request: web.Request) -> web.StreamResponse:
    engine = engine_of(request)
    ref, path = request.match_info["id"], request.query.get("path", "")
    info = await call(archive.path_stat, engine, ref, path)  # errors before the 200
    resp = web.StreamResponse(headers={"Content-Type": "application/x-tar",
                                       **_stat_header(info)})
    await resp.prepare(request)
    chunks: queue.Queue = queue.Queue(maxsize=64)
    gone = threading.Event()
    done = object()

    def run() -> None:
        try:
            archive.archive_path(engine, ref, path, _Chunks(chunks, gone))
        except Exception:  # noqa: BLE001 - the 200 is sent: the tar ends short
            import traceback

            if not gone.is_set():
                traceback.print_exc()
        finally:
            while True:
                try:
                    chunks.put(done, timeout=0.5)
                    break
                except queue.Full:
                    if gone.is_set():
                        break

    threading.Thread(target=run, daemon=True, name="archive").start()
    loop = asyncio.get_running_loop()
    try:
        while (chunk := await loop.run_in_executor(None, chunks.get)) is not done:
            await resp.write(chunk)
    except BaseException:
        gone.set()
        raise
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
