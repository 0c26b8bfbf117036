"""POST /build: the context as a tar body, the classic builder's JSON stream back.

As dockerd: what can be found wrong before building (a broken or empty context, no
Dockerfile, a parse error, an unknown target, squash) is answered with an error status
before the stream starts; a failing step ends the stream with an error that carries
its exit code."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from typing import Any

from aiohttp import web

from darse.api.server import Routes, call, engine_of, internal_message, spool_body
from darse.errors import DarseError


def routes(r: Routes) -> None:
    r.add_post("/build", build)
    r.add_post("/build/prune", prune)


async def prune(request: web.Request) -> web.Response:
    """docker builder prune: the builder's own cache, RUN --mount=type=cache's folders
    (the classic builder's step cache is made of images: image prune's)."""
    import time

    from darse.api.server import filters_of, json_response
    from darse.build.mounts import prune_caches
    from darse.errors import InvalidArgument

    filters = filters_of(request)
    for key in filters:
        if key not in _PRUNE_FILTERS:
            raise InvalidArgument(f"failed to prune build cache: Invalid filter '{key}'")
    older_than = None
    for value in (filters.get("until") or []) + (filters.get("unused-for") or []):
        try:
            older_than = time.time() - _seconds(value)
        except ValueError:
            raise InvalidArgument(f"failed to prune build cache: \"until\" filter expects a "
                                  f"duration (e.g., '24h'): time: invalid duration "
                                  f'"{value}"') from None
    keep = request.query.get("keep-storage", "0")
    if not keep.isdigit():
        raise InvalidArgument(f"invalid keep-storage: {keep}")
    deleted, reclaimed = await call(prune_caches, engine_of(request).images.root, older_than,
                                    int(keep))
    return json_response({"CachesDeleted": deleted or None, "SpaceReclaimed": reclaimed})


# BuildKit's filters in dockerd 20.10 (darse's cache folders have no parents or types:
# those select nothing more than all).
_PRUNE_FILTERS = ("id", "parent", "type", "description", "inuse", "shared", "private",
                  "until", "unused-for")


def _seconds(text: str) -> float:
    """A Go duration ("24h", "1h30m", "90s") in seconds."""
    units = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
    total, number, unit, rest = 0.0, "", "", text
    if not rest or rest == "0":
        if rest == "0":
            return 0.0
        raise ValueError(text)
    while rest:
        number = ""
        while rest and (rest[0].isdigit() or rest[0] == "."):
            number, rest = number + rest[0], rest[1:]
        unit = ""
        while rest and not (rest[0].isdigit() or rest[0] == "."):
            unit, rest = unit + rest[0], rest[1:]
        if not number or unit not in units:
            raise ValueError(text)
        total += float(number) * units[unit]
    return total


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
    if options.remote:
        tar = contexts.remote(tar, options.remote, engine.images.content.tmpdir,
                              options.dockerfile)
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
    # The handler awaits an asyncio queue the builder's thread feeds: no executor thread
    # held for the length of a build (issue 10 item 1).
    loop = asyncio.get_running_loop()
    events: asyncio.Queue = asyncio.Queue()
    done = object()

    def put(event: object) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: darsed is stopping
            loop.call_soon_threadsafe(events.put_nowait, event)

    def run() -> None:
        try:
            Builder(engine, context, put, options).build(the_plan)
        except DarseError as exc:
            detail: dict[str, Any] = {"message": str(exc)}
            if getattr(exc, "code", None) is not None:
                detail["code"] = exc.code
            put({"errorDetail": detail, "error": str(exc)})
        except Exception as exc:  # noqa: BLE001 - reported to the client, not lost
            import traceback

            traceback.print_exc()  # the details to darsed's log, one sentence to the client
            message = internal_message(exc)
            put({"errorDetail": {"message": message}, "error": message})
        finally:
            put(done)  # the client has its answer: the context's folder goes after
            context.close()

    threading.Thread(target=run, daemon=True).start()
    while True:
        event = await events.get()
        if event is done:
            break
        try:
            await resp.write(json.dumps(event).encode() + b"\r\n")
        except (ConnectionError, RuntimeError):
            pass  # the client left: the build still ends and cleans up
    return resp
