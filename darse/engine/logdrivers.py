"""Log drivers: json-file, local and none (issue 10 item 11), checked at create.

`local` is written and read as json-file here (docker's own format for it is a
protobuf framing of its own; what a user sees, `docker logs` and rotation, is the same).
`none` stores nothing and `logs` answers dockerd's 501. Any other driver is a plugin
darse does not have: refused at create with dockerd's message."""

from __future__ import annotations

import os
import re
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


def attributes(doc: dict[str, Any]) -> dict[str, str]:
    """The extra attributes json-file stores with each line (log-opts labels, env, their
    -regex forms, tag), which `logs --details` shows."""
    log_config = doc["HostConfig"].get("LogConfig") or {}
    opts = log_config.get("Config") or {}
    if log_config.get("Type") != "json-file" or not opts:
        return {}
    labels = doc["Config"].get("Labels") or {}
    env = dict(e.split("=", 1) for e in doc["Config"].get("Env") or [] if "=" in e)
    out: dict[str, str] = {}
    for option, source in (("labels", labels), ("env", env)):
        for key in filter(None, (opts.get(option) or "").split(",")):
            if key in source:
                out[key] = source[key]
        if opts.get(option + "-regex"):
            try:
                pattern = re.compile(opts[option + "-regex"])
            except re.error:
                continue
            out.update({k: v for k, v in source.items() if pattern.search(k)})
    if "tag" in opts:
        out["tag"] = _tag(opts["tag"], doc)
    return out


def _tag(template: str, doc: dict[str, Any]) -> str:
    image_id = doc.get("Image", "").removeprefix("sha256:")
    fields = {"ID": doc["Id"][:12], "FullID": doc["Id"], "Name": doc["Name"].lstrip("/"),
              "ImageID": image_id[:12], "ImageFullID": image_id,
              "ImageName": doc["Config"].get("Image", ""), "DaemonName": "docker"}
    if not template:
        return fields["ID"]
    return re.sub(r"\{\{\s*\.(\w+)\s*\}\}", lambda m: fields.get(m[1], m[0]), template)


def details_prefix(attrs: dict[str, str] | None) -> bytes:
    """`logs --details`: k=v pairs, sorted, query-escaped, comma-joined, then a space."""
    from urllib.parse import quote_plus

    return (",".join(f"{quote_plus(k)}={quote_plus(v)}" for k, v in sorted(
        (attrs or {}).items())) + " ").encode()
