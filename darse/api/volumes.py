"""Volume endpoints (/volumes/...)."""

from __future__ import annotations

from aiohttp import web

from darse.api.server import (
    Routes,
    call,
    engine_of,
    filters_of,
    json_response,
    query_bool,
    read_json,
)


def routes(r: Routes) -> None:
    r.add_get("/volumes", list_)
    r.add_post("/volumes/create", create)
    r.add_post("/volumes/prune", prune)
    r.add_get("/volumes/{name}", inspect)
    r.add_delete("/volumes/{name}", delete)


async def list_(request: web.Request) -> web.Response:
    vols = await call(engine_of(request).volume_list, filters_of(request))
    return json_response({"Volumes": vols, "Warnings": None})


async def create(request: web.Request) -> web.Response:
    from darse.api import models

    body = models.VOLUME_CREATE.decode(await read_json(request))
    vol = await call(engine_of(request).volumes.create, body.get("Name") or None,
                     body.get("Driver") or "local", body.get("DriverOpts") or {},
                     body.get("Labels") or {})
    return json_response(vol, 201)


async def inspect(request: web.Request) -> web.Response:
    return json_response(await call(engine_of(request).volumes.get, request.match_info["name"]))


async def delete(request: web.Request) -> web.Response:
    await call(engine_of(request).volume_remove, request.match_info["name"],
               query_bool(request, "force"))
    return web.Response(status=204)


async def prune(request: web.Request) -> web.Response:
    major, minor = request["api_version"].split(".")
    return json_response(await call(engine_of(request).volume_prune, filters_of(request),
                                    (int(major), int(minor))))
