"""darsed's HTTP layer: the Docker Engine API over a unix socket (or TCP).

Every API version path from 1.24 to API_VERSION is served (/v1.41/containers/json and
/containers/json alike); engine errors become Docker's status codes and
{"message": ...} bodies here, in one place.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import grp
import json
import os
import resource
import tempfile
from collections.abc import Awaitable, Callable
from typing import IO, Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from darse import __version__, errors
from darse.engine.engine import Engine
from darse.image.registry import RegistryError, Unauthorized

EXECUTOR_THREADS = 64
BACKLOG = 4096
MAX_HEADER_BYTES = 1 << 20
API_VERSION = "1.47"
MIN_API_VERSION = "1.24"

STATUS = [
    (errors.NotFound, 404), (errors.AlreadyExists, 409), (errors.Conflict, 409),
    (errors.InvalidArgument, 400), (errors.NotImplementedYet, 501),
    (errors.Unavailable, 503), (Unauthorized, 401), (RegistryError, 500),
    (errors.DarseError, 500),
]


def status_of(exc: BaseException) -> int:
    for kind, code in STATUS:
        if isinstance(exc, kind):
            return code
    return 500


def _version_tuple(v: str) -> tuple[int, int]:
    major, minor = v.split(".")
    return int(major), int(minor)


@web.middleware
async def version_and_errors(request: web.Request,
                             handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                             ) -> web.StreamResponse:
    version = request.match_info.get("api_version", "v" + API_VERSION)[1:]
    if _version_tuple(version) > _version_tuple(API_VERSION):
        return json_error(400, f"client version {version} is too new. Maximum supported "
                               f"API version is {API_VERSION}")
    if _version_tuple(version) < _version_tuple(MIN_API_VERSION):
        return json_error(400, f"client version {version} is too old. Minimum supported "
                               f"API version is {MIN_API_VERSION}, please upgrade your "
                               "client to a newer version")
    request["api_version"] = version
    try:
        resp = await handler(request)
    except web.HTTPNotFound:
        return json_error(404, "page not found")
    except web.HTTPMethodNotAllowed:
        return json_error(405, "method not allowed")
    except errors.DarseError as exc:
        return json_error(status_of(exc), str(exc))
    except (ValueError, KeyError, TypeError) as exc:
        return json_error(400, f"invalid request: {exc}")
    except (asyncio.CancelledError, ConnectionError):
        raise
    except Exception as exc:  # noqa: BLE001 - a bug: logged, and the client told
        import traceback

        traceback.print_exc()  # the details are the daemon's log's, not the client's
        return json_error(500, internal_message(exc))
    resp.headers.setdefault("Api-Version", API_VERSION)
    resp.headers.setdefault("Docker-Experimental", "false")
    resp.headers.setdefault("Ostype", "linux")
    resp.headers.setdefault("Server", f"darse/{__version__} (linux)")
    return resp


def internal_message(exc: BaseException) -> str:
    """One clear sentence for a failure no DarseError names: a system call's own words
    (as dockerd's "open ...: is a directory"), never Python's exception text."""
    from darse.image import undo

    if undo.full(exc):  # ENOSPC, or SQLite's "database or disk is full": dockerd's words
        return f"write {exc.filename}: no space left on device" \
            if getattr(exc, "filename", None) else "no space left on device"
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    return "internal error in darsed: its log has the details"


class Routes:
    """Each route twice: bare, and under /v{version} (every API version path)."""

    def __init__(self, router: web.UrlDispatcher) -> None:
        self.router = router

    def _add(self, method: str, path: str, handler: Callable[..., Any]) -> None:
        self.router.add_route(method, path, handler)
        self.router.add_route(method, "/{api_version:v[0-9]+\\.[0-9]+}" + path, handler)

    def add_get(self, path: str, handler: Callable[..., Any]) -> None:
        self._add("GET", path, handler)

    def add_post(self, path: str, handler: Callable[..., Any]) -> None:
        self._add("POST", path, handler)

    def add_delete(self, path: str, handler: Callable[..., Any]) -> None:
        self._add("DELETE", path, handler)

    def add_head(self, path: str, handler: Callable[..., Any]) -> None:
        self._add("HEAD", path, handler)

    def add_put(self, path: str, handler: Callable[..., Any]) -> None:
        self._add("PUT", path, handler)


def json_response(data: Any, status: int = 200) -> web.Response:
    """JSON with Content-Type exactly application/json: the docker CLI decodes error
    bodies only then (a charset parameter makes it print the raw JSON)."""
    return web.Response(body=json.dumps(data).encode(), status=status,
                        content_type="application/json")


def json_error(status: int, message: str) -> web.Response:
    return json_response({"message": message}, status)


def blocking(fn: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    """Run an engine call in the executor: the engine is synchronous."""
    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, functools.partial(fn, *args, **kwargs))
    return wrapper


async def call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, functools.partial(fn, *args, **kwargs))


def engine_of(request: web.Request) -> Engine:
    return request.app["engine"]


def query_bool(request: web.Request, name: str, default: bool = False) -> bool:
    value = request.query.get(name)
    if value is None:
        return default
    return value.lower() not in ("0", "false", "no", "")


def query_int(request: web.Request, name: str, default: int | None = None,
              required: bool = False) -> int | None:
    """An integer query parameter; a bad (or, if required, missing) one refused with
    dockerd's (Go's strconv) words."""
    text = request.query.get(name, "" if required else None)
    if text is None or (text == "" and not required):
        return default
    try:
        return int(text)
    except ValueError:
        raise errors.InvalidArgument(f"strconv.Atoi: parsing \"{text}\": invalid "
                                     "syntax") from None


def filters_of(request: web.Request) -> dict[str, list[str]]:
    """The filters query: {"key": ["v"]} or the old {"key": {"v": true}}."""
    raw = request.query.get("filters")
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise errors.InvalidArgument(f"invalid filter: {raw}") from None
    return {k: (list(v) if isinstance(v, dict) else v) for k, v in data.items()}


async def spool_body(request: web.Request) -> IO[bytes]:
    """The request's body (an archive, possibly large) in an unnamed file of the store's
    temporary folder, rewound: workers in threads read it without holding the loop."""
    tmp = tempfile.TemporaryFile(dir=engine_of(request).images.content.tmpdir)
    try:
        while chunk := await request.content.readany():
            tmp.write(chunk)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.close()
        from darse.image import undo

        if undo.full(exc):  # dockerd's words, not Python's
            raise errors.SystemFailure("no space left on device") from None
        raise
    tmp.seek(0)
    return tmp


async def read_json(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise errors.InvalidArgument(f"invalid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise errors.InvalidArgument("invalid JSON: expected an object")
    return data


class _Handler(RequestHandler):
    """aiohttp's connection protocol, able to outlive a half-close once hijacked: the
    docker CLI shuts its write side when it has no stdin, and asyncio closes the
    transport unless eof_received says to keep it."""

    __slots__ = ("on_half_close",)

    def eof_received(self) -> bool | None:
        callback = getattr(self, "on_half_close", None)
        if callback is not None:
            callback()
            return True
        return super().eof_received()


class _Server(web.Server):
    __slots__ = ()

    def __call__(self) -> RequestHandler:
        return _Handler(self, loop=self._loop, **self._kwargs)


class _Runner(web.AppRunner):
    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.__class__ = _Server
        return server


def make_app(engine: Engine) -> web.Application:
    from darse.api import (
        archive,
        build,
        bulk_stats,
        changes,
        containers,
        df,
        execs,
        images,
        networks,
        resources,
        swarm,
        system,
        volumes,
    )

    app = web.Application(middlewares=[version_and_errors], client_max_size=0)
    app["engine"] = engine
    app.on_startup.append(_start_watches)
    for module in (system, containers, execs, images, volumes, networks, build, swarm,
                   archive, changes, df, resources, bulk_stats):
        module.routes(Routes(app.router))
    return app


async def _start_watches(app: web.Application) -> None:
    """What long-lived requests sleep on, in the serving loop (darse.engine.state_watch)."""
    from darse.engine.state_watch import LogWatch, StateWatch

    loop = asyncio.get_running_loop()
    app["state_watch"], app["log_watch"] = StateWatch(loop), LogWatch(loop)
    app["engine"].on_change(app["state_watch"].changed)


def _raise_fd_limit() -> None:
    """Each open stream holds a socket and maybe a log file: the soft limit of 1024 would
    cap darsed at a few hundred clients (dockerd runs with LimitNOFILE=infinity)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = 1 << 20 if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < target:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


async def serve(engine: Engine, hosts: list[str], group: str = "darse") -> None:
    _raise_fd_limit()
    # Engine calls are short, but a few (stop's grace period) last seconds: more threads
    # than asyncio's default min(32, CPUs + 4) so that a handful of them stall nothing.
    asyncio.get_running_loop().set_default_executor(
        concurrent.futures.ThreadPoolExecutor(EXECUTOR_THREADS, "darsed-api"))
    app = make_app(engine)
    # dockerd's limits: Go's 1 MB of request headers (docker-py's X-Registry-Auth can be
    # large), a listen queue of 4096 (bursts of clients connect at once).
    runner = _Runner(app, access_log=None, handler_cancellation=True, shutdown_timeout=0.5,
                     max_line_size=MAX_HEADER_BYTES, max_field_size=MAX_HEADER_BYTES)
    await runner.setup()
    for host in hosts:
        if host.startswith("unix://"):
            path = host[len("unix://"):]
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
            if os.path.exists(path):
                os.unlink(path)
            site = web.UnixSite(runner, path, backlog=BACKLOG)
            await site.start()
            gid = _group_id(group)
            os.chown(path, 0, gid if gid is not None else 0)
            os.chmod(path, 0o660)
        elif host.startswith("fd://"):
            # systemd socket activation (contrib/systemd/darse.socket): fds from 3 on.
            import socket as socketlib

            count = int(os.environ.get("LISTEN_FDS", "0"))
            if count < 1:
                raise errors.InvalidArgument("fd://: no sockets passed by systemd (LISTEN_FDS)")
            for fd in range(3, 3 + count):
                sock = socketlib.socket(fileno=fd)
                await web.SockSite(runner, sock, backlog=BACKLOG).start()
        elif host.startswith("tcp://"):
            addr, _, port = host[len("tcp://"):].rpartition(":")
            await web.TCPSite(runner, addr or "127.0.0.1", int(port), backlog=BACKLOG).start()
        else:
            raise errors.InvalidArgument(f"invalid host: {host}")
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def _group_id(name: str) -> int | None:
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        return None
