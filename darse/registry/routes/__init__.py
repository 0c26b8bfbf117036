"""The registry's HTTP handlers, one module per endpoint group of the distribution spec,
and what they share: the registry's state on the application, and the spec's headers."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from aiohttp import web

from darse.registry.auth import Auth
from darse.registry.sessions import Sessions
from darse.registry.storage import Storage

API_VERSION = ("Docker-Distribution-API-Version", "registry/2.0")


@dataclass
class State:
    storage: Storage
    sessions: Sessions
    auth: Auth
    read_only: bool = False


STATE = web.AppKey("registry", State)


def state(request: web.Request) -> State:
    return request.app[STATE]


def empty(status: int, **headers: str) -> web.Response:
    headers.setdefault("Content-Length", "0")
    return web.Response(status=status, headers=headers)


def json_response(body: object, content_type: str = "application/json",
                  **headers: str) -> web.Response:
    import json

    return web.Response(body=json.dumps(body).encode(), content_type=content_type,
                        headers=headers)


async def locked_shared(storage: Storage) -> int:
    """The gc lock, shared, without blocking the event loop while gc holds it."""
    while (fd := storage.lock(exclusive=False, wait=False)) is None:
        await asyncio.sleep(0.05)
    return fd
