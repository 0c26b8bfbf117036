"""GET /system/df (docker system df) and POST /build/prune (the build cache docker
system prune asks to free: darse's classic builder keeps none apart from images)."""

from __future__ import annotations

from aiohttp import web

from darse.api.server import Routes, call, engine_of, json_response
from darse.engine import df


def routes(r: Routes) -> None:
    r.add_get("/system/df", system_df)
    taken = {(route.method, route.resource.canonical) for route in r.router.routes()
             if route.resource is not None}
    if ("POST", "/build/prune") not in taken:  # the builder's module may answer it
        r.add_post("/build/prune", build_prune)


async def system_df(request: web.Request) -> web.Response:
    return json_response(await call(df.disk_usage, engine_of(request)))


async def build_prune(request: web.Request) -> web.Response:
    return json_response({"CachesDeleted": None, "SpaceReclaimed": 0})
