"""Network endpoints (/networks/...)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from darse.api import models
from darse.api.server import Routes, call, engine_of, filters_of, json_response, read_json
from darse.errors import InvalidArgument, NotFound, NotImplementedYet, Unavailable
from darse.network import ipam


def routes(r: Routes) -> None:
    r.add_get("/networks", list_)
    r.add_post("/networks/create", create)
    r.add_post("/networks/prune", prune)
    r.add_get("/networks/{id}", inspect)
    r.add_delete("/networks/{id}", delete)
    r.add_post("/networks/{id}/connect", connect)
    r.add_post("/networks/{id}/disconnect", disconnect)


_LIST_FILTERS = ("dangling", "driver", "id", "label", "name", "scope", "type")


async def list_(request: web.Request) -> web.Response:
    filters = filters_of(request)
    for key, values in filters.items():  # checked before anything is listed, as dockerd
        if key not in _LIST_FILTERS:
            raise InvalidArgument(f"Invalid filter '{key}'")
        for v in values if key in ("dangling", "type") else []:
            if key == "type" and v not in ("custom", "builtin"):
                raise InvalidArgument(f"invalid filter: 'type'='{v}'")
            if key == "dangling" and v.lower() not in ("true", "1", "false", "0"):
                raise InvalidArgument("invalid value for filter 'dangling', must be \"true\" "
                                      "(or \"1\"), or \"false\" (or \"0\")")
    nets = await call(engine_of(request).network_list)
    builtin = {"bridge", "host", "none"}
    for key, values in filters.items():
        if key == "name":
            nets = [n for n in nets if any(v in n["Name"] for v in values)]
        elif key == "id":
            nets = [n for n in nets if any(n["Id"].startswith(v) for v in values)]
        elif key == "driver":
            nets = [n for n in nets if n["Driver"] in values]
        elif key == "scope":
            nets = [n for n in nets if n["Scope"] in values]
        elif key == "type":
            nets = [n for n in nets if ("builtin" if n["Name"] in builtin else "custom")
                    in values]
        elif key == "label":
            nets = [n for n in nets if all(_labelled(n["Labels"] or {}, v) for v in values)]
        elif key == "dangling":
            want = values[0].lower() in ("true", "1")
            nets = [n for n in nets if (n["Name"] not in builtin and not n["Containers"])
                    == want]
    return json_response(nets)


def _labelled(labels: dict[str, str], spec: str) -> bool:
    key, eq, value = spec.partition("=")
    return key in labels and (not eq or labels[key] == value)


def _check_create(body: dict[str, Any]) -> None:
    """What dockerd refuses on a node outside a swarm, in its words, before anything is
    made; and what darse does not do (config-only networks), said plainly."""
    ipam_driver = (body.get("IPAM") or {}).get("Driver") or "default"
    if ipam_driver != "default":
        raise NotFound(f'plugin "{ipam_driver}" not found')
    scope = body.get("Scope") or "local"
    if body.get("Ingress"):
        raise InvalidArgument("Ingress network can only be global scope network")
    if scope == "swarm":
        raise InvalidArgument("cannot create a swarm scoped network when swarm is not active")
    if scope != "local":
        raise Unavailable('This node is not a swarm manager. Use "docker swarm init" or '
                          '"docker swarm join" to connect this node to swarm and try again.')
    if body.get("ConfigOnly") or (body.get("ConfigFrom") or {}).get("Network"):
        raise NotImplementedYet("config-only networks (--config-only, --config-from) are "
                                "not supported by darse")


async def create(request: web.Request) -> web.Response:
    body = models.network_create(await read_json(request))
    _check_create(body)
    cfg, cfg6 = ipam.split((body.get("IPAM") or {}).get("Config") or [])
    cfg = cfg or {}
    engine = engine_of(request)
    net = await call(engine.networks.create, body.get("Name") or "", body.get("Driver") or
                     "bridge", cfg.get("Subnet"), cfg.get("Gateway"), cfg.get("IPRange"),
                     bool(body.get("Internal")), body.get("Options") or {},
                     body.get("Labels") or {}, cfg.get("AuxiliaryAddresses") or None,
                     bool(body.get("EnableIPv6")), cfg6)
    extra = {k: v for k, v in (("Attachable", bool(body.get("Attachable"))),
                               ("IPAM", {**net["IPAM"], "Options": (body.get("IPAM") or {})
                                         .get("Options") or None})) if v != net.get(k)}
    if extra:
        net = await call(engine.networks.annotate, net["Id"], extra)
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
    body = models.NETWORK_CONNECT.decode(await read_json(request))
    ep = body.get("EndpointConfig") or {}
    await call(engine_of(request).network_connect, request.match_info["id"],
               _container(body), (ep.get("IPAMConfig") or {}).get("IPv4Address") or None,
               ep.get("Aliases") or [], ep)
    return web.Response(status=200)


async def disconnect(request: web.Request) -> web.Response:
    body = models.NETWORK_DISCONNECT.decode(await read_json(request))
    await call(engine_of(request).network_disconnect, request.match_info["id"],
               _container(body), bool(body.get("Force")))
    return web.Response(status=200)


def _container(body: dict[str, Any]) -> str:
    if not body.get("Container"):
        raise InvalidArgument(f'invalid name or ID supplied: "{body.get("Container") or ""}"')
    return body["Container"]


async def prune(request: web.Request) -> web.Response:
    return json_response(await call(engine_of(request).network_prune, filters_of(request)))
