"""The environment a container's process (or an exec's) starts with, as Docker makes it:
dockerd's own variables (PATH unless the image sets one, HOSTNAME, TERM=xterm with a
tty) overridden by the container's Env, then HOME from the user's passwd entry ('/'
without one) when nobody set it, as runc adds it.

A bare `KEY` in Env (docker run -e KEY with KEY unset on the client) is kept in the
container's Config as sent, and removes KEY here: a process environment holds only
KEY=VALUE entries (the OCI runtime refuses anything else).
"""

from __future__ import annotations

import os
from typing import Any

from darse.engine import spec, users

TERM = "TERM=xterm"


def apply(env: list[str], overrides: list[str]) -> list[str]:
    """Docker's ReplaceOrAppendEnvValues: a KEY=VALUE replaces KEY in place or is
    appended; a bare KEY removes it."""
    out = list(env)
    for item in overrides:
        key, sep, _ = item.partition("=")
        at = next((i for i, e in enumerate(out) if e.partition("=")[0] == key), None)
        if not sep:
            if at is not None:
                del out[at]
        elif at is None:
            out.append(item)
        else:
            out[at] = item
    return out


def hostname(doc: dict[str, Any]) -> str:
    if doc["HostConfig"].get("NetworkMode") == "host":
        return os.uname().nodename
    return doc["Config"].get("Hostname") or doc["Id"][:12]


def process_env(doc: dict[str, Any], rootfs: str, uid: int, tty: bool,
                extra: list[str] = ()) -> list[str]:
    """The env of a process of the container run as uid (extra: an exec's Env)."""
    config_env = doc["Config"].get("Env") or []
    path = next((e for e in config_env if e.startswith("PATH=")), spec.DEFAULT_PATH)
    env = [path, f"HOSTNAME={hostname(doc)}", *([TERM] if tty else [])]
    env = apply(apply(env, config_env), list(extra))
    if not any(e.startswith("HOME=") for e in env):
        env.append(f"HOME={users.home(rootfs, uid)}")
    return env
