"""Network endpoints (/networks/...)."""

from __future__ import annotations

from aiohttp import web

from darse.api import models
from darse.api.server import Routes, call, engine_of, filters_of, json_response, read_json
from darse.network import ipam


def routes(r: Routes) -> None:
    r.add_get("/networks", list_)
    r.add_post("/networks/create", create)
    r.add_post("/networks/prune", prune)
    r.add_get("/networks/{id}", inspect)
    r.add_delete("/networks/{id}", delete)
    r.add_post("/networks/{id}/connect", connect)
    r.add_post("/networks/{id}/disconnect", disconnect)


async def list_(request: web.Request) -> web.Response:
    nets = await call(engine_of(request).network_list)
    filters = filters_of(request)
    for key, values in filters.items():
        if key == "name":
            nets = [n for n in nets if any(v in n["Name"] for v in values)]
        elif key == "id":
            nets = [n for n in nets if any(n["Id"].startswith(v) for v in values)]
        elif key == "driver":
            nets = [n for n in nets if n["Driver"] in values]
        elif key == "type":
            builtin = {"bridge", "host", "none"}
            nets = [n for n in nets if ("builtin" if n["Name"] in builtin else "custom")
                    in values]
        elif key == "label":
            nets = [n for n in nets if all(v.split("=", 1)[0] in (n["Labels"] or {})
                                           for v in values)]
    return json_response(nets)


async def create(request: web.Request) -> web.Response:
    body = models.network_create(await read_json(request))
    cfg, cfg6 = ipam.split((body.get("IPAM") or {}).get("Config") or [])
    cfg = cfg or {}
    engine = engine_of(request)
    net = await call(engine.networks.create, body.get("Name") or "", body.get("Driver") or
                     "bridge", cfg.get("Subnet"), cfg.get("Gateway"), cfg.get("IPRange"),
                     bool(body.get("Internal")), body.get("Options") or {},
                     body.get("Labels") or {}, cfg.get("AuxiliaryAddresses") or None,
                     bool(body.get("EnableIPv6")), cfg6)
    engine.events.emit("network", "create", net["Id"], {"name": net["Name"],
                                                         "type": net["Driver"]})
    return json_response({"Id": net["Id"], "Warning": ""}, 201)


async def inspect(request: web.Request) -> web.Response:
    return json_response(await call(engine_of(request).network_inspect,
                                    request.match_info["id"]))


async def delete(request: web.Request) -> web.Response:
    await call(engine_of(request).network_remove, request.match_info["id"])
    return web.Response(status=204)


async def connect(request: web.Request) -> web.Response:
    body = await read_json(request)
    ep = body.get("EndpointConfig") or {}
    await call(engine_of(request).network_connect, request.match_info["id"],
               body["Container"], (ep.get("IPAMConfig") or {}).get("IPv4Address") or None,
               ep.get("Aliases") or [], ep)
    return web.Response(status=200)


async def disconnect(request: web.Request) -> web.Response:
    body = await read_json(request)
    await call(engine_of(request).network_disconnect, request.match_info["id"],
               body["Container"], bool(body.get("Force")))
    return web.Response(status=200)


async def prune(request: web.Request) -> web.Response:
    return json_response(await call(engine_of(request).network_prune, filters_of(request)))
