"""POST /build: the context as a tar body, the classic builder's JSON stream back.

As dockerd: what can be found wrong before building (a broken or empty context, no
Dockerfile, a parse error, an unknown target, squash) is answered with an error status
before the stream starts; a failing step ends the stream with an error that carries
its exit code."""

from __future__ import annotations

import asyncio
import json
import queue
import threading
from typing import Any

from aiohttp import web

from darse.api.server import Routes, call, engine_of, spool_body
from darse.errors import DarseError


def routes(r: Routes) -> None:
    r.add_post("/build", build)


def _prepare(engine: Any, tar: Any, query: Any) -> tuple[Any, Any, Any]:
    from darse.build import context as contexts
    from darse.build.dockerfile import parse
    from darse.build.options import from_query
    from darse.build.stages import plan

    try:
        options = from_query(query)
    except BaseException:
        tar.close()
        raise
    context, text = contexts.prepare(tar, engine.images.content.tmpdir, options.dockerfile)
    try:
        return options, plan(parse(text), options.build_args, options.target), context
    except BaseException:
        context.close()
        raise


async def build(request: web.Request) -> web.StreamResponse:
    from darse.build.builder import Builder

    engine = engine_of(request)
    tar = await spool_body(request)
    options, the_plan, context = await call(_prepare, engine, tar, request.query)
    resp = web.StreamResponse(headers={"Content-Type": "application/json"})
    try:
        await resp.prepare(request)
    except BaseException:
        context.close()
        raise
    events: queue.Queue = queue.Queue()
    done = object()

    def run() -> None:
        try:
            Builder(engine, context, events.put, options).build(the_plan)
        except DarseError as exc:
            detail: dict[str, Any] = {"message": str(exc)}
            if getattr(exc, "code", None) is not None:
                detail["code"] = exc.code
            events.put({"errorDetail": detail, "error": str(exc)})
        except Exception as exc:  # noqa: BLE001 - reported to the client, not lost
            events.put({"errorDetail": {"message": repr(exc)}, "error": repr(exc)})
        finally:
            events.put(done)  # the client has its answer: the context's folder goes after
            context.close()

    threading.Thread(target=run, daemon=True).start()
    loop = asyncio.get_running_loop()
    while True:
        event = await loop.run_in_executor(None, events.get)
        if event is done:
            break
        try:
            await resp.write(json.dumps(event).encode() + b"\r\n")
        except (ConnectionError, RuntimeError):
            pass  # the client left: the build still ends and cleans up
    return resp
