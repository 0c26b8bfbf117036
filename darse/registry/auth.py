"""Who may do what: anonymous when the registry has no htpasswd file; otherwise htpasswd
users (bcrypt only, as docker-registry) by basic auth, or by the bearer tokens darse issues
itself at /auth/token as Docker's token flow expects (the docker CLI, skopeo and darse
follow a `WWW-Authenticate: Bearer realm=...,service=...,scope=...` challenge there).

A token carries the access it was issued for, per repository (`repository:NAME:pull,push`)
or for the catalog (`registry:catalog:*`), and is signed with a key made at each start
(HMAC-SHA256): it opens exactly what it names, for TOKEN_TTL seconds.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
from dataclasses import dataclass, field

from darse.errors import InvalidArgument

SERVICE = "darse-registry"
TOKEN_TTL = 300
ACTIONS = ("pull", "push", "delete")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Scope:
    type: str      # "repository" or "registry"
    name: str      # a repository name, or "catalog"
    actions: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> Scope | None:
        """`repository:NAME:pull,push`; None for what darse does not grant."""
        head, _, actions = text.rpartition(":")
        kind, _, name = head.partition(":")
        if kind not in ("repository", "registry") or not name:
            return None
        return cls(kind, name, tuple(a for a in actions.split(",") if a))

    def __str__(self) -> str:
        return f"{self.type}:{self.name}:{','.join(self.actions)}"


class Htpasswd:
    """An htpasswd file of bcrypt entries (`htpasswd -B`), read at start."""

    def __init__(self, path: str) -> None:
        self.users: dict[str, bytes] = {}
        with open(path) as f:
            for n, line in enumerate(f, 1):
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                user, sep, hashed = line.partition(":")
                if not sep or not hashed.startswith(("$2a$", "$2b$", "$2y$")):
                    raise InvalidArgument(f"{path}:{n}: only bcrypt entries (htpasswd -B) "
                                          "are supported")
                self.users[user] = hashed.encode()
        self._good: set[bytes] = set()  # bcrypt costs ~0.1 s: remember what passed

    def check(self, user: str, password: str) -> bool:
        import bcrypt

        hashed = self.users.get(user)
        if hashed is None:
            return False
        key = hashlib.sha256(hashed + b"\0" + password.encode()).digest()
        if key in self._good:
            return True
        if bcrypt.checkpw(password.encode(), hashed):
            self._good.add(key)
            return True
        return False


@dataclass
class Identity:
    """Who sent a request, and the access they hold."""

    user: str = ""
    everything: bool = False
    access: set[tuple[str, str, str]] = field(default_factory=set)
    bearer: bool = False

    def can(self, kind: str, name: str, action: str) -> bool:
        return self.everything or (kind, name, action) in self.access or \
            (kind, name, "*") in self.access


class Tokens:
    def __init__(self, key: bytes | None = None) -> None:
        self.key = key or os.urandom(32)

    def issue(self, user: str, scopes: list[Scope]) -> dict:
        now = int(time.time())
        claims = {"sub": user, "iat": now, "exp": now + TOKEN_TTL, "aud": SERVICE,
                  "access": [{"type": s.type, "name": s.name, "actions": list(s.actions)}
                             for s in scopes]}
        payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
        token = payload + "." + _b64(hmac.new(self.key, payload.encode(), "sha256").digest())
        return {"token": token, "access_token": token, "expires_in": TOKEN_TTL,
                "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))}

    def verify(self, token: str) -> Identity | None:
        payload, _, signature = token.partition(".")
        try:
            expected = hmac.new(self.key, payload.encode(), "sha256").digest()
            if not hmac.compare_digest(expected, _unb64(signature)):
                return None
            claims = json.loads(_unb64(payload))
        except ValueError:
            return None
        if claims.get("exp", 0) < time.time() or claims.get("aud") != SERVICE:
            return None
        access = {(a["type"], a["name"], action) for a in claims.get("access", [])
                  for action in a.get("actions", [])}
        return Identity(claims.get("sub", ""), False, access, bearer=True)


class Auth:
    """Anonymous when htpasswd is None; else users and tokens."""

    def __init__(self, htpasswd: Htpasswd | None) -> None:
        self.htpasswd = htpasswd
        self.tokens = Tokens()

    @property
    def anonymous(self) -> bool:
        return self.htpasswd is None

    def basic(self, header: str) -> str | None:
        """The user a `Basic` Authorization header names, if its password is right."""
        try:
            user, _, password = base64.b64decode(header.split(" ", 1)[1]).decode(
            ).partition(":")
        except (ValueError, IndexError):
            return None
        if self.htpasswd is not None and self.htpasswd.check(user, password):
            return user
        return None

    def identify(self, authorization: str) -> Identity | None:
        """The identity of a request's Authorization header (None: not authenticated)."""
        if self.anonymous:
            return Identity(everything=True)
        scheme = authorization.split(" ", 1)[0].lower()
        if scheme == "basic":
            user = self.basic(authorization)
            return Identity(user, everything=True) if user is not None else None
        if scheme == "bearer":
            return self.tokens.verify(authorization.split(" ", 1)[1].strip()
                                      if " " in authorization else "")
        return None

    @staticmethod
    def grant(user: str | None, scopes: list[Scope]) -> list[Scope]:
        """What a token for user may hold of what was asked: everything darse knows for an
        htpasswd user, nothing for the anonymous (as Docker Hub's empty token)."""
        if user is None:
            return []
        out = []
        for s in scopes:
            wanted = ("*",) if s.type == "registry" else tuple(
                a for a in s.actions if a in ACTIONS or a == "*")
            if s.type == "registry" and (s.name != "catalog" or "*" not in s.actions):
                continue
            if wanted:
                out.append(Scope(s.type, s.name, wanted))
        return out
