"""/auth/token: the token endpoint of Docker's flow (GET with basic auth and `scope`
parameters, or the OAuth2 password grant POSTed as a form)."""

from __future__ import annotations

from aiohttp import web

from darse.registry.auth import Scope
from darse.registry.errors import RegistryError
from darse.registry.routes import json_response, state


async def token(request: web.Request) -> web.StreamResponse:
    auth = state(request).auth
    scopes_text = request.query.getall("scope", [])
    user: str | None = None
    if request.method == "POST":
        form = await request.post()
        scopes_text = [*scopes_text, *str(form.get("scope", "")).split(" ")]
        if form.get("grant_type") == "password" and auth.htpasswd is not None:
            if not auth.htpasswd.check(str(form.get("username", "")),
                                       str(form.get("password", ""))):
                raise RegistryError("UNAUTHORIZED", "invalid username or password")
            user = str(form.get("username"))
    header = request.headers.get("Authorization", "")
    if header:
        user = auth.basic(header) if not auth.anonymous else ""
        if user is None:
            raise RegistryError("UNAUTHORIZED", "invalid username or password")
    if auth.anonymous:
        user = user or ""
    scopes = [s for text in scopes_text for part in text.split(" ") if part
              if (s := Scope.parse(part)) is not None]
    body = auth.tokens.issue(user or "", auth.grant(user, scopes))
    if request.method == "POST":
        body.pop("token")
    return json_response(body)
