"""daemon.json (Docker's keys) and darsed's command line, merged."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from darse.errors import InvalidArgument

KNOWN_KEYS = {"bip", "default-address-pools", "insecure-registries", "registry-mirrors",
              "userns-remap", "data-root", "exec-root", "dns", "dns-search", "dns-opts",
              "log-driver", "log-opts", "live-restore", "default-runtime", "runtimes",
              "hosts", "debug", "group", "storage-driver", "max-concurrent-downloads",
              "bridge", "registry", "init", "registry-mirrors-by-host", "ipv6",
              "fixed-cidr-v6", "cri-sandbox-image"}


@dataclass
class DaemonConfig:
    data_root: str = "/var/lib/darse"
    exec_root: str = "/run/darse"
    hosts: list[str] = field(default_factory=lambda: ["unix:///run/darse.sock"])
    group: str = "darse"
    dns: list[str] = field(default_factory=list)
    dns_search: list[str] = field(default_factory=list)
    dns_opts: list[str] = field(default_factory=list)
    insecure_registries: list[str] = field(default_factory=list)
    registry_mirrors: list[str] = field(default_factory=list)
    registry_mirrors_by_host: dict[str, list[str]] = field(default_factory=dict)
    log_driver: str = "json-file"
    log_opts: dict[str, str] = field(default_factory=dict)
    bip: str = ""
    default_address_pools: list[dict[str, Any]] = field(default_factory=list)
    userns_remap: str = ""
    live_restore: bool = True
    init: bool = False  # --init for containers that do not say
    cri_sandbox_image: str = ""  # a pause image for pod sandboxes (darse.cri.infra)
    debug: bool = False
    raw: dict[str, Any] = field(default_factory=dict)


def load(path: str | None, overrides: dict[str, Any] | None = None) -> DaemonConfig:
    """Read daemon.json (a missing default file is fine), then apply flag overrides."""
    data: dict[str, Any] = {}
    if path and os.path.exists(path):
        try:
            with open(path) as f:
                data = json.load(f)
        except ValueError as exc:
            raise InvalidArgument(f"unable to configure the Docker daemon with file {path}: "
                                  f"{exc}") from None
        unknown = sorted(set(data) - KNOWN_KEYS)
        if unknown:
            raise InvalidArgument(f"the following directives don't match any configuration "
                                  f"option: {', '.join(unknown)}")
    for key, value in (overrides or {}).items():
        if value not in (None, [], ""):
            data[key] = value
    cfg = DaemonConfig(raw=data)
    for key, value in data.items():
        attr = key.replace("-", "_")
        if hasattr(cfg, attr):
            setattr(cfg, attr, value)
    return cfg
