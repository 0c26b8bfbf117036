"""Exec endpoints: create in a container, start (hijacked unless detached), inspect."""

from __future__ import annotations

import asyncio
import functools
import sys

from aiohttp import web

from darse.api import models
from darse.api.containers import (
    DEFAULT_DETACH_KEYS,
    bridge,
    not_restarting,
    parse_detach_keys,
)
from darse.api.hijack import docker_frame, hijack
from darse.api.server import Routes, call, engine_of, json_response, query_int, read_json
from darse.errors import DarseError


def routes(r: Routes) -> None:
    r.add_post("/containers/{id}/exec", create)
    r.add_post("/exec/{id}/start", start)
    r.add_post("/exec/{id}/resize", resize)
    r.add_get("/exec/{id}/json", inspect)


async def create(request: web.Request) -> web.Response:
    body = models.exec_create(await read_json(request))
    await not_restarting(request)
    exec_id = await call(engine_of(request).exec_create, request.match_info["id"], body)
    return json_response({"Id": exec_id}, status=201)


async def start(request: web.Request) -> web.StreamResponse:
    engine = engine_of(request)
    exec_id = request.match_info["id"]
    body = models.EXEC_START.decode(await read_json(request))
    ex, process = await call(engine.exec_process, exec_id)
    if body.get("ConsoleSize"):
        h, w = body["ConsoleSize"]
        process["consoleSize"] = {"height": h, "width": w}
    req = {"op": "exec", "id": ex["ContainerID"], "exec_id": exec_id, "process": process,
           "stdin": ex["OpenStdin"]}
    if body.get("Detach"):
        reply = await call(engine.shim.call, "exec", detach=True,
                           **{k: v for k, v in req.items() if k != "op"})
        await call(engine.exec_started, exec_id, reply["pid"])
        return web.Response(status=200)
    # as dockerd: the pty is the create's, the start's Tty only says whether the stream
    # is framed (a pty's output then comes as stdout frames)
    tty = bool(process.get("terminal"))
    raw = bool(body.get("Tty"))
    keys = ex.get("DetachKeys")
    detach = parse_detach_keys(keys) if keys else DEFAULT_DETACH_KEYS
    resp, conn = await hijack(request, raw)
    try:
        record = await bridge(engine, conn, req, tty, {1: ex["OpenStdout"] or True,
                                                       2: ex["OpenStderr"] or True}, detach,
                              raw=raw)
        if record and "exit_code" in record:
            await call(engine.exec_finished, exec_id, record["exit_code"])
    except asyncio.CancelledError:
        # The client went without detaching (a detach returns): nobody will ever read or
        # write this process's stdio, so it goes, and the supervisor's fds with it.
        asyncio.get_running_loop().run_in_executor(None, functools.partial(
            engine.shim.call, "kill_exec", id=ex["ContainerID"], exec_id=exec_id))
        raise
    except DarseError as exc:
        # The 101 is sent: the error can only go down the stream, as dockerd does.
        message = f"{exc}\n".encode()
        print(f"darsed: exec {exec_id[:12]} failed: {exc}", file=sys.stderr, flush=True)
        await conn.send(message if raw else docker_frame(2, message))
        await call(engine.exec_finished, exec_id, 126)
    finally:
        conn.close()
    return resp


async def resize(request: web.Request) -> web.Response:
    engine = engine_of(request)
    ex = await call(engine.exec_inspect, request.match_info["id"])
    await call(engine.shim.call, "resize", id=ex["ContainerID"], exec_id=ex["ID"],
               height=query_int(request, "h", required=True),
               width=query_int(request, "w", required=True))
    return web.Response(status=201)


async def inspect(request: web.Request) -> web.Response:
    return json_response(await call(engine_of(request).exec_inspect,
                                        request.match_info["id"]))
