"""Swarm-mode endpoints (swarm, nodes, services, tasks, secrets, configs), answered as a
dockerd that is in no swarm answers them: darse has no swarm mode. Clients rely on those
answers (docker-py's tests leave the swarm in every tearDown and expect a 503), so each
route exists and fails as Docker's does, input checks first where dockerd makes them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from darse.api.server import Routes, json_error, read_json

NOT_MANAGER = ('This node is not a swarm manager. Use "docker swarm init" or "docker swarm '
               'join" to connect this node to swarm and try again.')
NOT_IN_SWARM = "This node is not part of a swarm"
NO_SWARM_MODE = "darse has no swarm mode: swarm init and join are not supported"

Handler = Callable[[web.Request], Awaitable[web.Response]]


def routes(r: Routes) -> None:
    r.add_get("/swarm", not_manager)
    r.add_post("/swarm/init", init_or_join)
    r.add_post("/swarm/join", init_or_join)
    r.add_post("/swarm/leave", leave)
    r.add_post("/swarm/update", versioned("swarm"))
    r.add_get("/swarm/unlockkey", not_manager)
    r.add_post("/swarm/unlock", not_manager)
    r.add_get("/nodes", not_manager)
    r.add_get("/nodes/{id}", not_manager)
    r.add_delete("/nodes/{id}", not_manager)
    r.add_post("/nodes/{id}/update", versioned("node"))
    r.add_get("/services", not_manager)
    r.add_post("/services/create", not_manager)
    r.add_get("/services/{id}", not_manager)
    r.add_delete("/services/{id}", not_manager)
    r.add_post("/services/{id}/update", versioned("service"))
    r.add_get("/services/{id}/logs", logs)
    r.add_get("/tasks", not_manager)
    r.add_get("/tasks/{id}", not_manager)
    r.add_get("/tasks/{id}/logs", logs)
    for kind in ("secret", "config"):
        r.add_get(f"/{kind}s", not_manager)
        r.add_post(f"/{kind}s/create", not_manager)
        r.add_get(f"/{kind}s/{{id}}", not_manager)
        r.add_delete(f"/{kind}s/{{id}}", not_manager)
        r.add_post(f"/{kind}s/{{id}}/update", versioned(kind, short=True))


async def not_manager(request: web.Request) -> web.Response:
    return json_error(503, NOT_MANAGER)


async def leave(request: web.Request) -> web.Response:
    return json_error(503, NOT_IN_SWARM)


async def init_or_join(request: web.Request) -> web.Response:
    body = await read_json(request)
    listen = body.get("ListenAddr") or ""
    if not listen:
        return json_error(400, f'invalid ListenAddr "{listen}": invalid empty address')
    if request.path.endswith("/join") and not body.get("RemoteAddrs"):
        return json_error(400, "at least 1 RemoteAddr is required to join")
    return json_error(503, NO_SWARM_MODE)


def versioned(kind: str, short: bool = False) -> Handler:
    """An update: its version query is checked (as dockerd does) before the 503."""
    async def handler(request: web.Request) -> web.Response:
        version = request.query.get("version", "")
        if not version.isdigit():
            if short:
                return json_error(400, f"invalid {kind} version")
            return json_error(400, f"invalid {kind} version '{version}': strconv.ParseUint: "
                                   f'parsing "{version}": invalid syntax')
        return json_error(503, NOT_MANAGER)
    return handler


async def logs(request: web.Request) -> web.Response:
    if not any(request.query.get(s, "") not in ("", "0", "false")
               for s in ("stdout", "stderr")):
        # dockerd's own status for it, a 500
        return json_error(500, "Bad parameters: you must choose at least one stream")
    return json_error(503, NOT_MANAGER)
