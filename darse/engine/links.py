"""Legacy links (docker run --link NAME[:ALIAS]) on the default bridge, as dockerd makes
them: the linked container must be running at create; at start the linking container
gets its address in /etc/hosts (alias, hostname, name) and environment variables
ALIAS_NAME, ALIAS_PORT..., ALIAS_ENV_... of its exposed ports and environment.
HostConfig.Links keeps dockerd's form, "/child:/parent/alias".
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from darse.errors import Conflict, InvalidArgument, NotFound, SystemFailure

if TYPE_CHECKING:
    from darse.engine.engine import Engine


def register(engine: Engine, host_config: dict[str, Any], name: str) -> None:
    """At create: each link resolved to a running container, in dockerd's form. On a
    user-defined network a link is a name only its container resolves (the embedded
    DNS), which needs nothing of the linked container yet."""
    if not legacy(host_config):
        return
    out = []
    for link in host_config.get("Links") or []:
        child_ref, _, alias = link.partition(":")
        child_ref = child_ref.lstrip("/")
        if not child_ref:
            raise InvalidArgument(f"invalid link format: {link}")
        alias = alias.rpartition("/")[2] or child_ref
        try:
            child = engine.containers.find(child_ref)
        except NotFound as exc:
            # 400, not 404: a client takes a create's 404 for a missing image.
            raise InvalidArgument(f"could not get container for {child_ref}: {exc}") from None
        if not child["State"]["Running"]:
            raise Conflict(f"Cannot link to a non running container: {child['Name']} AS "
                           f"/{name}/{alias}")
        out.append(f"{child['Name']}:/{name}/{alias}")
    if host_config.get("Links") is not None:
        host_config["Links"] = out or None


def legacy(host_config: dict[str, Any]) -> bool:
    """Links of the default bridge (hosts entries, variables), not a network's aliases."""
    return (host_config.get("NetworkMode") or "default") in ("default", "bridge")


def link_names(docs: Iterable[dict[str, Any]]) -> dict[str, list[str]]:
    """Each linked container's other names, "/parent/alias", as dockerd lists them in
    the container's Names (a link is a name of the linked container while the linking
    one exists)."""
    out: dict[str, list[str]] = {}
    for doc in docs:
        if not legacy(doc["HostConfig"]):
            continue
        for link in doc["HostConfig"].get("Links") or []:
            child, _, path = link.partition(":")
            if child and path:
                out.setdefault(child, []).append(path)
    return out


def resolve_alias(doc: dict[str, Any], name: str) -> str:
    """DNS on a user-defined network: a link's alias stands for the linked container's
    name, for the linking container only."""
    for link in doc["HostConfig"].get("Links") or []:
        child, _, alias = link.partition(":")
        if (alias.rpartition("/")[2] or child).lower() == name:
            return child.lstrip("/").lower()
    return name


def _linked(engine: Engine, doc: dict[str, Any]) -> list[tuple[dict[str, Any], str, str]]:
    """(child record, alias, its address) of each link whose child runs on a network."""
    out = []
    if not legacy(doc["HostConfig"]):
        return out
    for link in doc["HostConfig"].get("Links") or []:
        child_name, _, path = link.partition(":")
        try:
            child = engine.containers.find(child_name.lstrip("/"))
        except NotFound:
            raise Conflict(f"Cannot link to a non running container: {child_name} AS "
                           f"{path}") from None
        if not child["State"]["Running"]:
            raise Conflict(f"Cannot link to a non running container: {child['Name']} AS "
                           f"{path}")
        address = child["NetworkSettings"].get("IPAddress") or ""
        out.append((child, path.rpartition("/")[2], address))
    return out


def hosts_entries(engine: Engine, doc: dict[str, Any]) -> list[str]:
    """ExtraHosts-form entries ("names:ip") for /etc/hosts."""
    entries = []
    for child, alias, address in _linked(engine, doc):
        if not address:
            continue
        names = [alias, child["Config"].get("Hostname") or child["Id"][:12]]
        if alias != child["Name"].lstrip("/"):
            names.append(child["Name"].lstrip("/"))
        entries.append(f"{' '.join(names)}:{address}")
    return entries


def environment(engine: Engine, doc: dict[str, Any]) -> list[str]:
    """The variables dockerd sets for each link, in its order."""
    env: list[str] = []
    for child, alias, address in _linked(engine, doc):
        prefix = alias.upper().replace("-", "_")
        env.append(f"{prefix}_NAME={doc['Name']}/{alias}")
        ports = sorted(child["Config"].get("ExposedPorts") or {},
                       key=lambda p: (p.partition("/")[2] or "tcp", int(p.partition("/")[0])))
        if ports and address:
            port, _, proto = ports[0].partition("/")
            env.append(f"{prefix}_PORT={proto or 'tcp'}://{address}:{port}")
        for key in ports if address else []:
            port, _, proto = key.partition("/")
            proto = proto or "tcp"
            base = f"{prefix}_PORT_{port}_{proto.upper()}"
            env += [f"{base}={proto}://{address}:{port}", f"{base}_ADDR={address}",
                    f"{base}_PORT={port}", f"{base}_PROTO={proto}"]
        for item in child["Config"].get("Env") or []:
            key, sep, value = item.partition("=")
            if sep and key not in ("HOME", "PATH"):
                env.append(f"{prefix}_ENV_{key}={value}")
    return env


def add_environment(engine: Engine, oci: dict[str, Any], doc: dict[str, Any]) -> None:
    """The links' variables into the process's environment; the container's own win."""
    env = oci["process"]["env"]
    own = {item.partition("=")[0] for item in env}
    oci["process"]["env"] = [e for e in environment(engine, doc)
                             if e.partition("=")[0] not in own] + env


def remove(engine: Engine, name: str) -> None:
    """docker rm --link PARENT/ALIAS: the parent forgets that link (dockerd's rmLink);
    neither container is touched otherwise."""
    parent_ref, sep, alias = name.strip("/").rpartition("/")
    if not sep:
        raise SystemFailure("Conflict, cannot remove the default link name of the container")
    try:
        parent = engine.containers.find(parent_ref)
    except NotFound:
        raise NotFound(f"No such container: {name}") from None
    link_name = f"{parent['Name']}/{alias}"
    links = parent["HostConfig"].get("Links") or []
    kept = [link for link in links if link.partition(":")[2] != link_name]
    if len(kept) == len(links):
        raise NotFound(f"No such container: {name}")
    with engine._clocks.hold(parent["Id"]):  # noqa: SLF001 - the engine package's own
        parent = engine.containers.find(parent["Id"])
        parent["HostConfig"]["Links"] = [link for link in parent["HostConfig"].get("Links")
                                         or [] if link.partition(":")[2] != link_name] or None
        engine.containers.save(parent)
