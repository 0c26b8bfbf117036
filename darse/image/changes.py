"""`--change` instructions of docker import and commit: Dockerfile instructions that only
touch the image config (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER,
VOLUME, WORKDIR)."""

from __future__ import annotations

import json
import shlex
from typing import Any

from darse.errors import InvalidArgument

ALLOWED = ("CMD", "ENTRYPOINT", "ENV", "EXPOSE", "LABEL", "ONBUILD", "STOPSIGNAL", "USER",
           "VOLUME", "WORKDIR")


def _exec_form(rest: str) -> list[str]:
    """JSON array (exec form) or a shell string run by /bin/sh -c."""
    if rest.startswith("["):
        try:
            value = json.loads(rest)
        except ValueError:
            value = None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
    return ["/bin/sh", "-c", rest]


def _pairs(rest: str, what: str) -> dict[str, str]:
    words = shlex.split(rest)
    if words and "=" not in words[0]:  # legacy form: ENV key value with spaces
        if len(words) < 2:
            raise InvalidArgument(f"{what} must have two arguments")
        return {words[0]: rest.split(None, 1)[1].strip()}
    out = {}
    for word in words:
        if "=" not in word:
            raise InvalidArgument(f"{what} names can not be blank" if word.startswith("=")
                                  else f"Syntax error - can't find = in \"{word}\". Must be of "
                                  "the form: name=value")
        key, value = word.split("=", 1)
        out[key] = value
    return out


def apply(config: dict[str, Any], change: str) -> None:
    """Apply one instruction to config['config'] (the runtime part of an image config)."""
    text = change.strip()
    if not text:
        return
    word, _, rest = text.partition(" ")
    kind, rest = word.upper(), rest.strip()
    if kind not in ALLOWED:
        raise InvalidArgument(f"{word.lower()} is not a valid change command")  # dockerd's
    if not rest and kind in ("USER", "WORKDIR"):
        raise InvalidArgument(f"{kind} requires exactly one argument")
    if not rest and kind not in ("CMD", "ENTRYPOINT"):
        raise InvalidArgument(f"{kind} requires at least one argument")
    c = config.setdefault("config", {})
    if kind == "CMD":
        c["Cmd"] = _exec_form(rest)
    elif kind == "ENTRYPOINT":
        c["Entrypoint"] = _exec_form(rest)
    elif kind == "ENV":
        env = dict(e.split("=", 1) for e in c.get("Env") or [])
        env.update(_pairs(rest, "ENV"))
        c["Env"] = [f"{k}={v}" for k, v in env.items()]
    elif kind == "LABEL":
        c.setdefault("Labels", {}).update(_pairs(rest, "LABEL"))
    elif kind == "EXPOSE":
        for port in rest.split():
            c.setdefault("ExposedPorts", {})[port if "/" in port else f"{port}/tcp"] = {}
    elif kind == "VOLUME":
        paths = _exec_form(rest) if rest.startswith("[") else rest.split()
        if rest.startswith("[") and paths[:2] == ["/bin/sh", "-c"]:
            paths = rest.split()
        for path in paths:
            c.setdefault("Volumes", {})[path] = {}
    elif kind == "USER":
        c["User"] = rest
    elif kind == "WORKDIR":
        c["WorkingDir"] = rest
    elif kind == "STOPSIGNAL":
        c["StopSignal"] = rest
    elif kind == "ONBUILD":
        c.setdefault("OnBuild", []).append(rest)
