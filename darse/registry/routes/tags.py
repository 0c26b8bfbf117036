"""GET /v2/<name>/tags/list and GET /v2/_catalog: lexically sorted lists, paginated by `n`
and `last` with a `Link: <...>; rel="next"` header while more remain."""

from __future__ import annotations

from urllib.parse import urlencode

from aiohttp import web

from darse.registry.errors import RegistryError
from darse.registry.routes import json_response, state


def _page(request: web.Request, items: list[str], path: str) -> tuple[list[str], dict]:
    last = request.query.get("last")
    if last is not None:
        items = [i for i in items if i > last]
    n = request.query.get("n")
    if n is None:
        return items, {}
    try:
        count = int(n)
        if count < 0:
            raise ValueError
    except ValueError:
        raise RegistryError("PAGINATION_NUMBER_INVALID", detail={"n": n}) from None
    page = items[:count]
    if count and len(items) > count:
        query = urlencode({"n": count, "last": page[-1]})
        return page, {"Link": f'<{path}?{query}>; rel="next"'}
    return page, {}


async def tags(request: web.Request, name: str) -> web.StreamResponse:
    items, headers = _page(request, state(request).storage.tags(name), f"/v2/{name}/tags/list")
    return json_response({"name": name, "tags": items}, **headers)


async def catalog(request: web.Request) -> web.StreamResponse:
    items, headers = _page(request, state(request).storage.repositories(), "/v2/_catalog")
    return json_response({"repositories": items}, **headers)
