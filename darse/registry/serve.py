"""`darse registry serve`: the registry on one address, plain HTTP or TLS, one log line per
request on stderr, and abandoned uploads collected as it runs."""

from __future__ import annotations

import asyncio
import logging
import signal
import ssl
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from darse.registry import gc
from darse.registry.auth import Auth, Htpasswd
from darse.registry.routes import STATE
from darse.registry.server import make_app

ACCESS_FORMAT = '%a "%r" %s %b %Tfs'


@dataclass
class Options:
    addr: str = "127.0.0.1:5000"
    root: str = "/var/lib/darse-registry"
    htpasswd: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    read_only: bool = False
    upload_ttl: float = gc.UPLOAD_TTL


def _split_addr(addr: str) -> tuple[str, int]:
    host, _, port = addr.rpartition(":")
    return host.strip("[]") or "0.0.0.0", int(port)


async def _purge_uploads(app: web.Application, ttl: float) -> None:
    sessions = app[STATE].sessions
    while True:
        await asyncio.sleep(min(ttl, 600))
        for uuid in sessions.purge(ttl):
            logging.getLogger("darse.registry").info("upload %s abandoned: removed", uuid)


async def start(options: Options) -> Callable[[], Awaitable[None]]:
    """Start serving on the running loop (darse registry serve's own, or darsed's); returns
    the coroutine function that stops it."""
    auth = Auth(Htpasswd(options.htpasswd) if options.htpasswd else None)
    app = make_app(options.root, auth, options.read_only)
    context = None
    if options.tls_cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(options.tls_cert, options.tls_key)
    runner = web.AppRunner(app, access_log_format=ACCESS_FORMAT,
                           access_log=logging.getLogger("darse.registry.access"))
    await runner.setup()
    host, port = _split_addr(options.addr)
    try:
        await web.TCPSite(runner, host, port, ssl_context=context).start()
    except BaseException:
        await runner.cleanup()
        raise
    scheme = "https" if context else "http"
    print(f"darse registry serving {options.root} on {scheme}://{options.addr}"
          f"{' (read-only)' if options.read_only else ''}"
          f"{', htpasswd ' + options.htpasswd if options.htpasswd else ', anonymous'}",
          file=sys.stderr, flush=True)
    purge = asyncio.create_task(_purge_uploads(app, options.upload_ttl))

    async def stop() -> None:
        purge.cancel()
        await runner.cleanup()

    return stop


async def run(options: Options) -> None:
    stop_serving = await start(options)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await stop_serving()


def serve(options: Options) -> None:
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(message)s")
    asyncio.run(run(options))
