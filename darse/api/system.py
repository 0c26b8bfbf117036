"""System endpoints: _ping, version, info, events, auth."""

from __future__ import annotations

import asyncio
import json
import os
import platform
import time

from aiohttp import web

from darse import __version__
from darse.api.server import (
    API_VERSION,
    MIN_API_VERSION,
    Routes,
    call,
    engine_of,
    filters_of,
    json_response,
    read_json,
)
from darse.image.registry import Credentials, Registry
from darse.runtime import cgroups


def routes(r: Routes) -> None:
    r.add_get("/_ping", ping)
    r.add_get("/version", version)
    r.add_get("/info", info)
    r.add_get("/events", events)
    r.add_post("/auth", auth)


async def ping(request: web.Request) -> web.Response:
    headers = {"Api-Version": API_VERSION, "Builder-Version": "1", "Cache-Control":
               "no-cache, no-store, must-revalidate", "Pragma": "no-cache", "Ostype": "linux"}
    return web.Response(text="OK" if request.method == "GET" else "", headers=headers)


def _kernel() -> str:
    return os.uname().release


async def version(request: web.Request) -> web.Response:
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine, os.uname().machine)
    return json_response({
        "Platform": {"Name": "darse"},
        "Components": [{"Name": "Engine", "Version": __version__, "Details": {
            # a map in dockerd's types: its keys in order
            "ApiVersion": API_VERSION, "Arch": arch, "BuildTime": "", "Experimental": "false",
            "GitCommit": "", "GoVersion": "python" + platform.python_version(),
            "KernelVersion": _kernel(), "MinAPIVersion": MIN_API_VERSION, "Os": "linux"}}],
        "Version": __version__, "ApiVersion": API_VERSION, "MinAPIVersion": MIN_API_VERSION,
        "GitCommit": "", "GoVersion": "python" + platform.python_version(), "Os": "linux",
        "Arch": arch, "KernelVersion": _kernel(),  # BuildTime: omitted when empty
    })


async def info(request: web.Request) -> web.Response:
    engine = engine_of(request)
    docs = await call(engine.containers.all)
    running = sum(1 for d in docs if d["State"]["Running"] and not d["State"]["Paused"])
    paused = sum(1 for d in docs if d["State"]["Paused"])
    images = await call(engine.images.image_ids)
    cfg = engine.config
    return json_response({
        "ID": "", "Containers": len(docs), "ContainersRunning": running,
        "ContainersPaused": paused, "ContainersStopped": len(docs) - running - paused,
        "Images": len(images), "Driver": "overlay2", "DriverStatus": [["Backing Filesystem",
                                                                       "extfs"]],
        "DockerRootDir": cfg.data_root, "Name": os.uname().nodename,
        "OperatingSystem": _os_name(), "OSType": "linux", "Architecture": os.uname().machine,
        "KernelVersion": _kernel(), "NCPU": os.cpu_count(),
        "MemTotal": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"),
        "ServerVersion": __version__, "CgroupDriver": "cgroupfs",
        "CgroupVersion": "2" if cgroups.is_v2() else "1",
        # "runc" is Docker's name for the default runtime: darse-runtime is its path
        "LoggingDriver": cfg.log_driver, "DefaultRuntime": "runc",
        "Runtimes": {"darse-runtime": {"path": "darse-runtime"},
                     "runc": {"path": "darse-runtime"}},
        "SecurityOptions": ["name=seccomp,profile=builtin"],
        "RegistryConfig": {"InsecureRegistryCIDRs": ["127.0.0.0/8"],
                           "IndexConfigs": {}, "Mirrors": cfg.registry_mirrors},
        "IndexServerAddress": "https://index.docker.io/v1/", "LiveRestoreEnabled": True,
        "Debug": cfg.debug, "Labels": [], "ExperimentalBuild": False,
        "Plugins": {"Volume": ["local"], "Network": ["bridge", "host", "none"],
                    "Log": ["json-file", "local", "none"]},
        "MemoryLimit": True, "SwapLimit": True, "CpuCfsPeriod": True, "CpuCfsQuota": True,
        "PidsLimit": True, "IPv4Forwarding": True, "Warnings": None,
        "Swarm": {"NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive",
                  "ControlAvailable": False, "Error": "", "RemoteManagers": None},
    })


def _os_name() -> str:
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "Linux"


def _match(event: dict, filters: dict[str, list[str]]) -> bool:
    """dockerd's event filter: every key given must match (unknown keys match all)."""
    attrs = event["Actor"].get("Attributes") or {}
    actor, kind = event["Actor"]["ID"], event["Type"]

    def exact(key: str, *values: str) -> bool:
        return key not in filters or any(v in filters[key] for v in values)

    def fuzzy(key: str) -> bool:  # a prefix of the actor's id or of its name
        return key not in filters or any(
            actor.startswith(v) or attrs.get("name", "").startswith(v) for v in filters[key])

    action = event["Action"]
    if {"health_status", "exec_create", "exec_start"} & set(filters.get("event") or []):
        if not any(action.startswith(v) for v in filters["event"]):
            return False
    elif not exact("event", action):
        return False
    image_name = attrs.get("name" if kind == "image" else "image", "")
    return (exact("type", kind) and exact("scope", event.get("scope", "local"))
            and all(fuzzy(k) for k in ("container", "volume", "network", "daemon", "plugin",
                                       "node", "service", "secret", "config"))
            and exact("image", actor, image_name, _strip_tag(actor), _strip_tag(image_name))
            and all(_labelled(attrs, spec) for spec in filters.get("label") or []))


def _strip_tag(name: str) -> str:
    last = name.rsplit("/", 1)[-1]
    return name.rsplit(":", 1)[0] if ":" in last else name


def _labelled(attrs: dict[str, str], spec: str) -> bool:
    key, eq, value = spec.partition("=")
    return key in attrs and (not eq or attrs[key] == value)


def _when(text: str | None) -> int | None:
    if not text:
        return None
    from darse.engine.logs import parse_time

    return int(parse_time(text) * 1e9)


async def events(request: web.Request) -> web.StreamResponse:
    engine = engine_of(request)
    filters = filters_of(request)
    since, until = _when(request.query.get("since")), _when(request.query.get("until"))
    resp = web.StreamResponse(headers={"Content-Type": "application/json"})
    await resp.prepare(request)
    sub = engine.events.subscribe()
    try:
        if since is not None:
            for e in engine.events.since(since, until):
                if _match(e, filters):
                    await resp.write(json.dumps(e).encode() + b"\n")
        while True:
            left = None if until is None else (until - time.time_ns()) / 1e9
            if left is not None and left <= 0:
                break
            try:
                e = await asyncio.wait_for(sub.get(), left)
            except TimeoutError:
                break
            if e is None or (until is not None and e["timeNano"] > until):
                break
            if _match(e, filters):
                await resp.write(json.dumps(e).encode() + b"\n")
    finally:
        engine.events.unsubscribe(sub)
    return resp


async def auth(request: web.Request) -> web.Response:
    from darse.api import models

    body = models.AUTH_CONFIG.decode(await read_json(request))
    server = body.get("serveraddress") or "https://index.docker.io/v1/"
    host = server.split("://", 1)[-1].split("/", 1)[0]
    if host in ("index.docker.io", "registry-1.docker.io"):
        host = "docker.io"
    creds = Credentials(body.get("username", ""), body.get("password", ""))
    engine = engine_of(request)

    def check() -> None:
        reg = Registry(host, engine.images.registry_config, creds)
        try:
            reg.check_login()
        finally:
            reg.close()

    await call(check)
    return json_response({"Status": "Login Succeeded", "IdentityToken": ""})
