"""Log drivers: json-file, local and none (issue 10 item 11), checked at create.

`local` is written and read as json-file here (docker's own format for it is a
protobuf framing of its own; what a user sees, `docker logs` and rotation, is the same).
`none` stores nothing and `logs` answers dockerd's 501. Any other driver is a plugin
darse does not have: refused at create with dockerd's message."""

from __future__ import annotations

import os
from typing import Any

from darse.errors import InvalidArgument, NotImplementedYet

# The options each driver takes, as dockerd validates them at create.
OPTIONS = {
    "json-file": {"max-file", "max-size", "compress", "labels", "labels-regex", "env",
                  "env-regex", "tag"},
    "local": {"max-file", "max-size", "compress"},
    "none": set(),
}


def resolve(log_config: dict[str, Any] | None, default_driver: str,
            default_opts: dict[str, str]) -> dict[str, Any]:
    """HostConfig.LogConfig as recorded: the daemon's driver when none is named (the
    docker CLI sends Type ""), its options checked."""
    log_config = dict(log_config or {})
    driver = log_config.get("Type") or default_driver
    if not isinstance(driver, str) or driver not in OPTIONS:
        raise InvalidArgument(f"error looking up logging plugin {driver}: plugin "
                              f"\"{driver}\" not found")
    opts = log_config.get("Config")
    if not log_config.get("Type") and not opts:
        opts = dict(default_opts) if driver != "none" else {}
    opts = opts or {}
    if not isinstance(opts, dict) or not all(isinstance(v, str) for v in opts.values()):
        raise InvalidArgument("invalid log opts: a map of strings is expected")
    for key in opts:
        if key not in OPTIONS[driver]:
            raise InvalidArgument(f"unknown log opt '{key}' for json-file log driver"
                                  if driver == "json-file"
                                  else f"unknown log opt '{key}' for log driver {driver}")
    return {"Type": driver, "Config": opts}


def log_path(container_dir: str, container_id: str, log_config: dict[str, Any]) -> str:
    """Where the log is written; "" when nothing is (none), as dockerd's LogPath."""
    if log_config.get("Type") == "none":
        return ""
    return os.path.join(container_dir, f"{container_id}-json.log")


def check_readable(doc: dict[str, Any]) -> None:
    if (doc["HostConfig"].get("LogConfig") or {}).get("Type") == "none":
        raise NotImplementedYet("configured logging driver does not support reading")
