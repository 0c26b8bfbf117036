"""A container's filesystem changes: GET /containers/{id}/changes (docker diff) and
POST /commit (docker commit)."""

from __future__ import annotations

import json

from aiohttp import web

from darse.api.server import Routes, call, engine_of, json_response, query_bool
from darse.engine import changes, commit
from darse.errors import InvalidArgument


def routes(r: Routes) -> None:
    r.add_get("/containers/{id}/changes", diff)
    r.add_post("/commit", commit_)


async def diff(request: web.Request) -> web.Response:
    return json_response(await call(changes.changes, engine_of(request),
                                    request.match_info["id"]))


async def commit_(request: web.Request) -> web.Response:
    q = request.query
    container = q.get("container", "")
    if not container:
        raise InvalidArgument('invalid name or ID supplied: ""')
    raw = (await request.read()).strip()
    try:
        overrides = json.loads(raw) if raw else None  # the docker CLI sends null
    except ValueError as exc:
        raise InvalidArgument(f"invalid JSON: {exc}") from None
    from darse.api import models

    overrides = models.decode(models.COMMIT_CONFIG, overrides) if overrides is not None \
        else None
    out = await call(commit.commit, engine_of(request), container, q.get("repo") or None,
                     q.get("tag") or None, q.get("comment", ""), q.get("author", ""),
                     query_bool(request, "pause", True), q.getall("changes", []), overrides)
    return json_response(out, status=201)
