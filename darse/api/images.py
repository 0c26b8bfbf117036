"""Image endpoints (/images/...): pull and import, list, inspect, history, tag, remove,
push, save and load, prune."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aiohttp import web

from darse import memory
from darse.api import streams
from darse.api.server import (
    Routes,
    call,
    engine_of,
    filters_of,
    json_response,
    query_bool,
    spool_body,
)
from darse.errors import DarseError, InvalidArgument
from darse.image import archive, distribution
from darse.image import reference as refs
from darse.image.importer import import_image
from darse.image.pull import pull, pull_all_tags
from darse.image.push import push
from darse.image.registry import Credentials

NAME = "{name:.+}"


def routes(r: Routes) -> None:
    r.add_post("/images/create", create)
    r.add_get("/images/json", list_)
    r.add_post("/images/load", load)
    r.add_get("/images/get", save)
    r.add_post("/images/prune", prune)
    r.add_get("/images/search", search)
    r.add_get(f"/images/{NAME}/json", inspect)
    r.add_get(f"/images/{NAME}/history", history)
    r.add_get(f"/images/{NAME}/get", save_one)
    r.add_post(f"/images/{NAME}/tag", tag)
    r.add_post(f"/images/{NAME}/push", push_)
    r.add_delete(f"/images/{NAME}", delete)
    r.add_get(f"/distribution/{NAME}/json", distribution_inspect)


class _LateResponse(web.StreamResponse):
    """Sent only with its first line: a failure before any progress (a registry that
    cannot be reached, an unknown repository) is answered with an HTTP error, as dockerd
    does, so clients print it as the daemon's error."""

    def __init__(self, request: web.Request) -> None:
        super().__init__(headers={"Content-Type": "application/json"})
        self.request = request
        self.failure: BaseException | None = None

    async def write(self, data: bytes) -> None:  # type: ignore[override]
        if not self.prepared:
            if self.failure is not None:
                return  # raised by _progress_stream instead
            await self.prepare(self.request)
        await super().write(data)


async def _progress_stream(request: web.Request, work: Callable[[Callable[[dict], None]], Any],
                           always_streamed: bool = False) -> web.StreamResponse:
    """Run work(emit) in a thread; its events go out as JSON lines, an error last.
    always_streamed: even an error before any event is a line of a 200 stream (dockerd
    20.10's load), not an HTTP error."""
    resp = _LateResponse(request)
    if always_streamed:
        await resp.prepare(request)

    def on_error(exc: BaseException) -> dict:
        if isinstance(exc, DarseError):
            resp.failure = exc
        return _error_event(exc)

    try:
        await streams.from_thread(request, resp, work,
                                  lambda event: json.dumps(event).encode() + b"\r\n", on_error)
    finally:
        await call(memory.give_back)  # the transfer's buffers, freed in its thread's arena
    if not resp.prepared:
        if resp.failure is not None:
            raise resp.failure
        await resp.prepare(request)
    return resp


def _error_event(exc: BaseException) -> dict:
    if not isinstance(exc, DarseError):  # a bug: the traceback to darsed's log
        import traceback

        traceback.print_exception(exc)
    message = str(exc) if isinstance(exc, DarseError) else "internal error, see darsed's log"
    return {"errorDetail": {"message": message}, "error": message}


def _credentials(request: web.Request) -> Credentials | None:
    return Credentials.from_x_registry_auth(request.headers.get("X-Registry-Auth"))


async def create(request: web.Request) -> web.StreamResponse:
    engine = engine_of(request)
    if request.query.get("fromSrc"):
        return await _import(request)
    name = request.query.get("fromImage")
    if not name:
        raise InvalidArgument("fromImage or fromSrc is required")
    tag = request.query.get("tag", "")
    platform = request.query.get("platform") or None
    creds = _credentials(request)
    last = name.rsplit("/", 1)[-1]
    if "tag" in request.query and not tag and ":" not in last and "@" not in name:
        # An empty tag asks for every tag (the API's --all-tags).
        ref = refs.parse(name)
        return await _progress_stream(request, lambda emit: pull_all_tags(
            engine.images, ref, platform, creds, emit))
    if tag:
        name = f"{name}@{tag}" if ":" in tag and tag.startswith("sha256") else f"{name}:{tag}"
    ref = refs.parse(name)
    return await _progress_stream(request, lambda emit: pull(
        engine.images, ref, platform, creds, emit))


async def _import(request: web.Request) -> web.StreamResponse:
    engine = engine_of(request)
    repo = request.query.get("repo") or None
    if repo and request.query.get("tag"):
        repo = f"{repo}:{request.query['tag']}"
    changes = request.query.getall("changes", [])
    message = request.query.get("message", "")
    platform = request.query.get("platform") or None
    tmp = await spool_body(request)

    def work(emit: Callable[[dict], None]) -> None:
        with tmp:
            image_id = import_image(engine.images, tmp, repo, changes, message, platform)
        emit({"status": image_id})

    return await _progress_stream(request, work)


async def list_(request: web.Request) -> web.Response:
    engine = engine_of(request)
    out = await call(engine.images.list, query_bool(request, "all"), filters_of(request))
    return json_response(out)


async def inspect(request: web.Request) -> web.Response:
    return json_response(await call(engine_of(request).images.inspect,
                                        request.match_info["name"]))


async def distribution_inspect(request: web.Request) -> web.Response:
    engine = engine_of(request)
    ref = refs.parse(request.match_info["name"])
    return json_response(await call(distribution.inspect, engine.images.registry_config, ref,
                                    _credentials(request)))


async def history(request: web.Request) -> web.Response:
    return json_response(await call(engine_of(request).images.history,
                                        request.match_info["name"]))


async def tag(request: web.Request) -> web.Response:
    repo = request.query.get("repo")
    if not repo:
        raise InvalidArgument("repository name must have at least one component")
    target = f"{repo}:{request.query['tag']}" if request.query.get("tag") else repo
    await call(engine_of(request).images.tag, request.match_info["name"], target)
    engine_of(request).events.emit("image", "tag", request.match_info["name"],
                                   {"name": target})
    return web.Response(status=201)


async def delete(request: web.Request) -> web.Response:
    out = await call(engine_of(request).images.remove, request.match_info["name"],
                     query_bool(request, "force"), not query_bool(request, "noprune"))
    return json_response(out)


async def push_(request: web.Request) -> web.StreamResponse:
    engine = engine_of(request)
    name = request.match_info["name"]
    tag_ = request.query.get("tag")
    ref = refs.parse(f"{name}:{tag_}" if tag_ else name)
    creds = _credentials(request)
    return await _progress_stream(request, lambda emit: push(engine.images, ref, creds, emit))


class _Writer:
    """A file-like sink for a tar writer in a thread: its chunks go to the client."""

    def __init__(self, put: Callable[[bytes], None]) -> None:
        self.put = put

    def write(self, data: bytes) -> int:
        self.put(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass


async def stream_from_thread(request: web.Request, write: Callable[[Any], None]
                             ) -> web.StreamResponse:
    """A tar (or any bytes) that write(file) produces in a thread, streamed as it comes;
    the writer stops (darse.errors.Cancelled) if the client leaves."""
    resp = web.StreamResponse(headers={"Content-Type": "application/x-tar"})
    await resp.prepare(request)
    await streams.from_thread(request, resp, lambda put: write(_Writer(put)), bytes)
    return resp


async def _save(request: web.Request, names: list[str]) -> web.StreamResponse:
    engine = engine_of(request)
    for name in names:
        await call(engine.images.resolve, name)  # 404 before the 200 starts
    return await stream_from_thread(request, lambda out: archive.save(engine.images, names,
                                                                          out))


async def save(request: web.Request) -> web.StreamResponse:
    return await _save(request, request.query.getall("names", []))


async def save_one(request: web.Request) -> web.StreamResponse:
    return await _save(request, [request.match_info["name"]])


async def load(request: web.Request) -> web.StreamResponse:
    engine = engine_of(request)
    tmp = await spool_body(request)

    def work(emit: Callable[[dict], None]) -> None:
        with tmp:
            archive.load(engine.images, tmp, emit)

    # docker-py's images.load raises ImageLoadError only for an error line of the stream.
    return await _progress_stream(request, work, always_streamed=True)


async def search(request: web.Request) -> web.Response:
    from darse.image.search import search as find

    term = request.query.get("term", "")
    limit = request.query.get("limit") or "25"
    if not limit.lstrip("-").isdigit():
        raise InvalidArgument(f'strconv.Atoi: parsing "{limit}": invalid syntax')
    return json_response(await call(find, engine_of(request).images.registry_config, term,
                                    int(limit), filters_of(request)))


async def prune(request: web.Request) -> web.Response:
    from darse.engine import prune as pruning

    return json_response(await call(pruning.images, engine_of(request), filters_of(request)))
