"""--init (HostConfig.Init, daemon.json "init"): as dockerd, an init runs as the
container's pid 1 with the command as its child, reaping zombies and passing signals on.

The init is tini (Debian's package), its static build: it has to run in any image,
whatever libc the image has or lacks. It is bind-mounted read-only where dockerd puts
its own, /sbin/docker-init, and started as `docker-init -- cmd...`.
"""

from __future__ import annotations

import os
from typing import Any

from darse.errors import SystemFailure

INIT_PATH = "/sbin/docker-init"
HOST_INITS = ("/usr/bin/tini-static", "/usr/bin/docker-init")


def wanted(host_config: dict[str, Any], daemon_default: bool) -> bool:
    """Init unset in the request: the daemon's default (as dockerd's *bool)."""
    init = host_config.get("Init")
    return bool(daemon_default) if init is None else bool(init)


def host_binary() -> str:
    for path in HOST_INITS:
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    raise SystemFailure("exec: \"docker-init\": executable file not found in $PATH "
                        "(install Debian's tini package)")


def wrap(args: list[str], mounts: list[dict[str, Any]]) -> tuple[list[str],
                                                                 list[dict[str, Any]]]:
    """The process's arguments under the init, and its mount among the others."""
    mount = {"destination": INIT_PATH, "type": "bind", "source": host_binary(),
             "options": ["bind", "ro", "nosuid", "nodev"]}
    return [INIT_PATH, "--", *args], [*mounts, mount]
