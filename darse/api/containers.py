"""Container endpoints (/containers/...)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import struct
from collections.abc import Awaitable, Callable

from aiohttp import web

from darse.api import models, shimstream
from darse.api.hijack import docker_frame, hijack
from darse.api.server import (
    Routes,
    call,
    engine_of,
    filters_of,
    json_response,
    query_bool,
    query_int,
    read_json,
)
from darse.engine import logdrivers, stopping, waits
from darse.engine import logs as logfiles
from darse.errors import InvalidArgument, NotFound

_SHIM_HEADER = struct.Struct(">BI")
DEFAULT_DETACH_KEYS = b"\x10\x11"  # ctrl-p ctrl-q


def routes(r: Routes) -> None:
    r.add_post("/containers/create", create)
    r.add_get("/containers/json", list_)
    r.add_post("/containers/prune", prune)
    r.add_get("/containers/{id}/json", inspect)
    r.add_post("/containers/{id}/start", start)
    r.add_post("/containers/{id}/stop", stop)
    r.add_post("/containers/{id}/restart", restart)
    r.add_post("/containers/{id}/kill", kill)
    r.add_post("/containers/{id}/wait", wait)
    r.add_delete("/containers/{id}", delete)
    r.add_delete("/containers/{id}/{alias}", delete)  # rm --link PARENT/ALIAS
    r.add_get("/containers/{id}/logs", logs)
    r.add_post("/containers/{id}/attach", attach)
    r.add_post("/containers/{id}/resize", resize)
    r.add_get("/containers/{id}/top", top)
    r.add_post("/containers/{id}/rename", rename)
    r.add_post("/containers/{id}/pause", pause)
    r.add_post("/containers/{id}/unpause", unpause)
    r.add_get("/containers/{id}/export", export)


async def create(request: web.Request) -> web.Response:
    body = models.container_create(await read_json(request))
    out = await call(engine_of(request).create, body, request.query.get("name") or None)
    return json_response(out, status=201)


async def list_(request: web.Request) -> web.Response:
    from darse.engine.views import summaries_json

    limit = query_int(request, "limit", -1)
    body = await call(summaries_json, engine_of(request), query_bool(request, "all"),
                      filters_of(request), limit, query_bool(request, "size"))
    return web.Response(body=body, content_type="application/json")


async def prune(request: web.Request) -> web.Response:
    return json_response(await call(engine_of(request).prune, filters_of(request)))


async def inspect(request: web.Request) -> web.Response:
    return json_response(await call(engine_of(request).inspect, request.match_info["id"],
                                    query_bool(request, "size")))


async def start(request: web.Request) -> web.Response:
    started = await call(engine_of(request).start, request.match_info["id"])
    return web.Response(status=204 if started else 304)


def _timeout(request: web.Request) -> int | None:
    return query_int(request, "t" if request.query.get("t") else "timeout")


async def stop(request: web.Request) -> web.Response:
    stopped = await stopping.stop_async(engine_of(request), request.app["state_watch"],
                                        request.match_info["id"], _timeout(request),
                                        request.query.get("signal") or None)
    return web.Response(status=204 if stopped else 304)


async def restart(request: web.Request) -> web.Response:
    engine = engine_of(request)
    doc = await call(engine.containers.find, request.match_info["id"])
    await stopping.stop_async(engine, request.app["state_watch"], doc["Id"],
                              _timeout(request), request.query.get("signal") or None)
    await call(stopping.start_again, engine, doc["Id"])
    return web.Response(status=204)


async def kill(request: web.Request) -> web.Response:
    await call(engine_of(request).kill, request.match_info["id"],
               request.query.get("signal") or "SIGKILL")
    return web.Response(status=204)


async def wait(request: web.Request) -> web.StreamResponse:
    engine = engine_of(request)
    condition = waits.check_condition(request.query.get("condition") or "not-running")
    doc = await call(engine.containers.find, request.match_info["id"])  # 404 before the 200
    resp = web.StreamResponse(headers={"Content-Type": "application/json"})
    await resp.prepare(request)  # headers now: the docker CLI waits for them before start
    result = await waits.wait(engine, request.app["state_watch"], doc, condition)
    await resp.write(json.dumps(result).encode() + b"\n")
    return resp


async def delete(request: web.Request) -> web.Response:
    name = request.match_info["id"]
    if "alias" in request.match_info:
        name += "/" + request.match_info["alias"]
        if not query_bool(request, "link"):
            raise NotFound(f"No such container: {name}")
    if query_bool(request, "link"):
        from darse.engine import links

        await call(links.remove, engine_of(request), name)
        return web.Response(status=204)
    await call(engine_of(request).remove, name, query_bool(request, "force"),
               query_bool(request, "v"))
    return web.Response(status=204)


async def rename(request: web.Request) -> web.Response:
    if not request.query.get("name"):
        raise InvalidArgument("Neither old nor new names may be empty")
    await call(engine_of(request).rename, request.match_info["id"], request.query["name"])
    return web.Response(status=204)


async def not_restarting(request: web.Request, attach: bool = False) -> dict:
    """The container, unless it waits to restart (darse.engine.restart)."""
    engine = engine_of(request)
    doc = await call(engine.containers.find, request.match_info["id"])
    engine.restarts.refuse(doc, attach)
    return doc


async def pause(request: web.Request) -> web.Response:
    await not_restarting(request)
    await call(engine_of(request).pause, request.match_info["id"], True)
    return web.Response(status=204)


async def unpause(request: web.Request) -> web.Response:
    await call(engine_of(request).pause, request.match_info["id"], False)
    return web.Response(status=204)


async def top(request: web.Request) -> web.Response:
    await not_restarting(request)
    return json_response(await call(engine_of(request).top, request.match_info["id"],
                                        request.query.get("ps_args") or "-ef"))


async def resize(request: web.Request) -> web.Response:
    engine = engine_of(request)
    doc = await call(engine.containers.find, request.match_info["id"])
    height, width = query_int(request, "h", required=True), query_int(request, "w",
                                                                     required=True)
    await call(engine.shim.call, "resize", id=doc["Id"], height=height, width=width)
    return web.Response(status=200)


def _log_time(text: str) -> float | None:
    """since/until: what the docker CLI sends (unix seconds), or a time or duration as
    darse's CLI may; anything else in dockerd's words."""
    try:
        return logfiles.parse_time(text) or None
    except ValueError:
        raise InvalidArgument(f'strconv.ParseInt: parsing "{text}": invalid syntax') from None


def _record_frame(rec: dict, tty: bool, timestamps: bool, details: bool = False) -> bytes:
    data = rec["log"].encode()
    if details:
        data = logdrivers.details_prefix(rec.get("attrs")) + data
    if timestamps:
        data = rec["time"].encode() + b" " + data
    return data if tty else docker_frame(1 if rec["stream"] == "stdout" else 2, data)


async def logs(request: web.Request) -> web.StreamResponse:
    engine = engine_of(request)
    doc, path = await call(engine.log_path, request.match_info["id"])
    logdrivers.check_readable(doc)
    want_out, want_err = query_bool(request, "stdout"), query_bool(request, "stderr")
    if not (want_out or want_err):
        raise InvalidArgument("Bad parameters: you must choose at least one stream")
    streams = {s for s, w in (("stdout", want_out), ("stderr", want_err)) if w}
    tail = request.query.get("tail", "all")
    tail_n = int(tail) if tail.lstrip("-").isdigit() else None  # else all, as dockerd
    since, until = (_log_time(request.query.get(k, "")) for k in ("since", "until"))
    tty = bool(doc["Config"].get("Tty"))
    timestamps, details = query_bool(request, "timestamps"), query_bool(request, "details")
    reader = await call(logfiles.LogReader, path, tail_n, since, until)
    try:
        resp = web.StreamResponse(headers={
            "Content-Type": "application/vnd.docker.raw-stream" if tty
            else "application/vnd.docker.multiplexed-stream"})
        await resp.prepare(request)

        async def send(records: list[dict]) -> None:
            out = b"".join(_record_frame(rec, tty, timestamps, details) for rec in records
                           if rec["stream"] in streams)
            if out:
                await resp.write(out)  # waits while the client is slow: memory stays flat

        while batch := await call(reader.read_batch):
            await send(batch)
        if query_bool(request, "follow") and until is None:
            await follow(request, doc["Id"], path, reader, send)
    finally:
        reader.close()
    return resp


async def follow(request: web.Request, cid: str, path: str, reader: logfiles.LogReader,
                 send: Callable[[list[dict]], Awaitable[None]]) -> None:
    """Records as the log grows, until the container stops: asleep on inotify and the
    container's state watch in between, holding no thread."""
    engine = engine_of(request)
    wake = asyncio.Event()
    with request.app["log_watch"].watching(path, wake) as (_, watched), \
            request.app["state_watch"].watching(cid, wake):
        while True:
            wake.clear()
            running = await call(engine.is_running, cid)
            while batch := await call(reader.read_batch, True):
                await send(batch)
            if not running:
                return
            # Without inotify (its limits reached), a poll; with it, a rare look in case.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), 30 if watched else 0.2)


async def attach(request: web.Request) -> web.StreamResponse:
    engine = engine_of(request)
    doc = await not_restarting(request, attach=True)
    tty = bool(doc["Config"].get("Tty"))
    want_in = query_bool(request, "stdin")
    want = {1: query_bool(request, "stdout"), 2: query_bool(request, "stderr")}
    keys = request.query.get("detachKeys")
    detach = parse_detach_keys(keys) if keys is not None else DEFAULT_DETACH_KEYS
    resp, conn = await hijack(request, tty)
    engine._event(doc, "attach")  # noqa: SLF001 - the engine's own way to say it
    try:
        if query_bool(request, "logs"):
            reader = await call(logfiles.LogReader, doc["LogPath"])
            try:
                while batch := await call(reader.read_batch):
                    for rec in batch:
                        if want[1 if rec["stream"] == "stdout" else 2]:
                            await conn.send(_record_frame(rec, tty, False))
            finally:
                reader.close()
        if query_bool(request, "stream", True):
            await bridge(engine, conn, {"op": "attach", "id": doc["Id"], "stdin": want_in,
                                        "wait_start": not doc["State"]["Running"]},
                         tty, want, detach)
    finally:
        conn.close()
    return resp


def parse_detach_keys(text: str) -> bytes:
    """'ctrl-p,ctrl-q' -> b'\\x10\\x11', as docker's --detach-keys."""
    out = bytearray()
    for key in filter(None, text.split(",")):
        if key.startswith("ctrl-") and len(key) == 6:
            c = key[5]
            code = {"@": 0, "[": 27, "\\": 28, "]": 29, "^": 30, "_": 31}.get(c)
            out.append(code if code is not None else ord(c.lower()) - ord("a") + 1)
        elif len(key) == 1:
            out.append(ord(key))
        else:
            raise InvalidArgument(f"Invalid detach keys ({text}) provided")
    return bytes(out)


async def bridge(engine, conn, request: dict, tty: bool, want: dict[int, bool],  # noqa: ANN001
                 detach: bytes, raw: bool | None = None) -> dict | None:
    """Relay a shim attach stream to a hijacked client; returns the exit record. raw (the
    pty's by default) says whether the stream goes unframed: an exec's start chooses it."""
    raw = tty if raw is None else raw
    reader, writer = await asyncio.open_unix_connection(engine.shim.path)
    writer.write((json.dumps(request) + "\n").encode())
    shim = {"reader": reader, "writer": writer}
    try:
        reply = json.loads(await reader.readline())
    except (ConnectionError, ValueError):  # the shim died: an attach goes to the next
        reply = {"ok": await shimstream.reattach(engine, request, shim, again=False),
                 "kind": "Unavailable", "error": "darse-shim closed the connection"}
    if not reply.get("ok"):
        shim["writer"].close()
        from darse.shim.client import check

        check(reply)
    exit_record: dict | None = {"pid": reply.get("pid")}

    async def output() -> None:
        nonlocal exit_record
        while True:
            try:
                header = await shim["reader"].readexactly(_SHIM_HEADER.size)
                stream, length = _SHIM_HEADER.unpack(header)
                data = await shim["reader"].readexactly(length)
            except (asyncio.IncompleteReadError, ConnectionError):
                if await shimstream.reattach(engine, request, shim):
                    continue
                return
            if stream == 3:
                exit_record = json.loads(data)
                return
            if want.get(stream):
                await conn.send(data if raw else docker_frame(stream, data))

    async def stdin() -> None:
        if not request.get("stdin"):
            await asyncio.Event().wait()
        matched = 0
        while True:
            data = await conn.read()
            if not data:
                shim["writer"].write(_SHIM_HEADER.pack(0, 0))
                await shim["writer"].drain()
                await asyncio.Event().wait()
            if tty and detach:
                for b in data:  # the detach sequence ends the attach, not the container
                    matched = matched + 1 if b == detach[matched] else (1 if b == detach[0]
                                                                         else 0)
                    if matched == len(detach):
                        return
            try:
                shim["writer"].write(_SHIM_HEADER.pack(0, len(data)) + data)
                await shim["writer"].drain()
            except ConnectionError:
                pass  # typed while no shim ran: lost (output() takes the next one up)

    out_task = asyncio.ensure_future(output())
    in_task = asyncio.ensure_future(stdin())
    try:
        await asyncio.wait([out_task, in_task], return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in (out_task, in_task):
            t.cancel()
        shim["writer"].close()
    return exit_record


async def export(request: web.Request) -> web.StreamResponse:
    from darse.api.images import stream_from_thread

    engine = engine_of(request)
    doc = await call(engine.containers.find, request.match_info["id"])
    return await stream_from_thread(request, lambda out: engine.export(doc["Id"], out))
