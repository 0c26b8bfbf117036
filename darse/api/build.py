"""POST /build: the context as a tar body, the classic builder's JSON stream back."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable

from aiohttp import web

from darse.api.images import _progress_stream
from darse.api.server import Routes, engine_of, spool_body
from darse.errors import InvalidArgument


def routes(r: Routes) -> None:
    r.add_post("/build", build)


async def build(request: web.Request) -> web.StreamResponse:
    from darse.build.builder import Builder
    from darse.build.dockerfile import read_dockerfile
    from darse.image import layer as layers

    engine = engine_of(request)
    tags = request.query.getall("t", [])
    dockerfile = request.query.get("dockerfile") or "Dockerfile"
    try:
        build_args = json.loads(request.query.get("buildargs") or "{}")
    except ValueError:
        raise InvalidArgument("invalid buildargs: not JSON") from None
    tar = await spool_body(request)
    context = tempfile.mkdtemp(prefix="build-", dir=engine.images.content.tmpdir)

    def work(emit: Callable[[dict], None]) -> None:
        try:
            with tar:
                layers.unpack(tar, context)  # the context is untrusted: same safe unpack
            text = read_dockerfile(context, dockerfile)
            Builder(engine, context, emit, build_args).build(text, tags)
        finally:
            shutil.rmtree(context, ignore_errors=True)

    return await _progress_stream(request, work)
