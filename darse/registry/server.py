"""The registry's aiohttp application: one dispatcher for /v2/ (repository names hold
slashes, so each path is matched from its end), the access each route needs, and the
middleware that authenticates, refuses writes to a read-only registry, and answers every
error with the spec's JSON body and the Docker-Distribution-API-Version header."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable

from aiohttp import web

from darse.registry.auth import SERVICE, Auth
from darse.registry.errors import RegistryError
from darse.registry.names import check_name
from darse.registry.routes import (
    API_VERSION,
    STATE,
    State,
    blobs,
    manifests,
    referrers,
    tags,
    token,
    uploads,
)
from darse.registry.sessions import Sessions
from darse.registry.storage import Storage

log = logging.getLogger("darse.registry")
Handler = Callable[..., Awaitable[web.StreamResponse]]
WRITES = ("PUT", "POST", "PATCH", "DELETE")

# (path after /v2/, {method: (handler, action needed on the repository)})
ROUTES: list[tuple[re.Pattern, dict[str, tuple[Handler, str]]]] = [
    (re.compile(r"(?P<name>.+)/manifests/(?P<reference>[^/]+)"), {
        "GET": (manifests.get, "pull"), "HEAD": (manifests.get, "pull"),
        "PUT": (manifests.put, "push"), "DELETE": (manifests.delete, "delete")}),
    (re.compile(r"(?P<name>.+)/blobs/uploads/?"), {"POST": (uploads.start, "push")}),
    (re.compile(r"(?P<name>.+)/blobs/uploads/(?P<uuid>[^/]+)"), {
        "GET": (uploads.status, "push"), "PATCH": (uploads.patch, "push"),
        "PUT": (uploads.finish, "push"), "DELETE": (uploads.cancel, "push")}),
    (re.compile(r"(?P<name>.+)/blobs/(?P<digest>[^/]+)"), {
        "GET": (blobs.get, "pull"), "HEAD": (blobs.get, "pull"),
        "DELETE": (blobs.delete, "delete")}),
    (re.compile(r"(?P<name>.+)/tags/list"), {"GET": (tags.tags, "pull")}),
    (re.compile(r"(?P<name>.+)/referrers/(?P<digest>[^/]+)"), {
        "GET": (referrers.referrers, "pull")}),
]


def _error(exc: RegistryError, request: web.Request) -> web.Response:
    headers = {}
    if exc.status == 401:
        headers["WWW-Authenticate"] = challenge(request, request.get("scope"),
                                                request.get("insufficient", False))
    return web.Response(status=exc.status, body=json.dumps(exc.body()).encode(),
                        content_type="application/json", headers=headers)


def challenge(request: web.Request, scope: str | None, insufficient: bool) -> str:
    realm = f"{request.scheme}://{request.host}/auth/token"
    out = f'Bearer realm="{realm}",service="{SERVICE}"'
    if scope:
        out += f',scope="{scope}"'
    if insufficient:
        out += ',error="insufficient_scope"'
    return out


def _authorize(request: web.Request, kind: str, name: str, action: str,
               also: str = "") -> None:
    """Let the request through if its identity holds the access, or answer 401 with a
    challenge naming it (and `also`, a scope the handler may need)."""
    auth = request.app[STATE].auth
    identity = auth.identify(request.headers.get("Authorization", ""))
    if kind:
        # docker asks for pull and push together when it pushes.
        actions = "pull,push" if action == "push" else action
        request["scope"] = f"{kind}:{name}:{actions}{' ' + also if also else ''}"
    if identity is None:
        raise RegistryError("UNAUTHORIZED")
    request["identity"] = identity
    if kind and not identity.can(kind, name, action):
        request["insufficient"] = True
        raise RegistryError("UNAUTHORIZED", "authentication required",
                            [{"Type": kind, "Name": name, "Action": action}])


async def v2(request: web.Request) -> web.StreamResponse:
    st = request.app[STATE]
    tail = request.match_info.get("tail", "")
    if tail == "":
        _authorize(request, "", "", "")
        return web.json_response({})
    if tail == "_catalog":
        if request.method != "GET":
            raise RegistryError("UNSUPPORTED")
        _authorize(request, "registry", "catalog", "*")
        return await tags.catalog(request)
    for pattern, methods in ROUTES:
        m = pattern.fullmatch(tail)
        if m is None:
            continue
        if request.method not in methods:
            raise RegistryError("UNSUPPORTED")
        handler, action = methods[request.method]
        name = check_name(m.group("name"))
        also = ""
        if handler is uploads.start and "mount" in request.query and "from" in request.query:
            # A mount reads its source: ask for both at once, as docker-registry does, so a
            # client gets one token for the two.
            also = f"repository:{check_name(request.query['from'])}:pull"
        _authorize(request, "repository", name, action, also)
        if st.read_only and request.method in WRITES:
            raise RegistryError("UNSUPPORTED", "the registry is read-only")
        return await handler(request, **m.groupdict())
    raise RegistryError("NAME_UNKNOWN", "no such route", {"path": request.path})


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except RegistryError as exc:
        response = _error(exc, request)
    except web.HTTPException as exc:
        # aiohttp's own refusals (body too large, bad request line) keep their status.
        response = web.Response(status=exc.status, body=json.dumps({"errors": [{
            "code": "UNSUPPORTED" if exc.status == 405 else "UNKNOWN",
            "message": exc.reason}]}).encode(), content_type="application/json")
    except Exception as exc:  # noqa: BLE001 - a client gets the spec's body, the log the trace
        log.exception("%s %s failed", request.method, request.path)
        response = web.Response(status=500, body=json.dumps({"errors": [{
            "code": "UNKNOWN", "message": str(exc)}]}).encode(), content_type="application/json")
    response.headers[API_VERSION[0]] = API_VERSION[1]
    return response


def make_app(root: str, auth: Auth, read_only: bool = False) -> web.Application:
    storage = Storage(root)
    app = web.Application(middlewares=[errors], client_max_size=8 << 20)
    app[STATE] = State(storage, Sessions(storage), auth, read_only)
    app.router.add_route("*", "/v2/{tail:.*}", v2)
    app.router.add_route("*", "/v2", v2)
    app.router.add_route("GET", "/auth/token", token.token)
    app.router.add_route("POST", "/auth/token", token.token)
    return app

