"""A container's networks in the engine: chosen at create, plumbed at start (namespace,
endpoints, published ports, /etc/hosts and resolv.conf, DNS), released at exit."""

from __future__ import annotations

import ipaddress
import socket
import sys
from typing import TYPE_CHECKING, Any

from darse.engine import etc_files
from darse.errors import Conflict, InvalidArgument, NotFound, SystemFailure
from darse.network import netns, proxy
from darse.network.manager import AUTO_V4, PREDEFINED

if TYPE_CHECKING:
    from darse.engine.engine import Engine

INTERNAL = "_networks"  # [{"Name", "IPv4Address", "Aliases"}], primary first
EPHEMERAL = range(32768, 61000)


def prepare(engine: Engine, host_config: dict[str, Any],
            networking: dict[str, Any] | None) -> list[dict[str, Any]]:
    # "default" stays in the record, as dockerd keeps it; on Linux it is the bridge.
    given = host_config.get("NetworkMode") or "default"
    mode = "bridge" if given == "default" else given
    host_config["NetworkMode"] = given
    if mode in ("host", "none") or mode.startswith("container:"):
        if host_config.get("PortBindings") and mode != "none":
            pass
        return []
    name = _known_name(engine, mode)
    endpoints = (networking or {}).get("EndpointsConfig") or {}
    # (the docker CLI names the endpoint of `run` without --network "default")
    ep = endpoints.get(given) or endpoints.get(mode) or endpoints.get(name) or {}
    first = wanted_endpoint(name, ep)
    if (first["IPv4Address"] or first["IPv6Address"]) and name == "bridge":
        raise InvalidArgument("user specified IP address is supported on user defined "
                              "networks only")
    mac = ep.get("MacAddress") or None
    if mac:
        check_mac(mac)
    wanted = [first]
    # Another network named in EndpointsConfig is joined too, as dockerd does, not dropped.
    for key, other in endpoints.items():
        if key not in (given, mode, name) and _known_name(engine, key) not in (mode, name):
            wanted.append(wanted_endpoint(_known_name(engine, key), other or {}))
    return wanted


def wanted_endpoint(name: str, ep: dict[str, Any]) -> dict[str, Any]:
    """What an EndpointSettings asks of a network (the record's INTERNAL entry), its
    addresses checked as dockerd checks them at create."""
    ipam = ep.get("IPAMConfig") or {}
    ip4 = ipam.get("IPv4Address") or None
    if ip4:
        try:
            ipaddress.IPv4Address(ip4)
        except ValueError:
            raise InvalidArgument(f"invalid IPv4 address: {ip4}") from None
    ip6 = ipam.get("IPv6Address") or None
    if ip6:
        try:
            ipaddress.IPv6Address(ip6)
        except ValueError:  # (an IPv4 one too, as dockerd)
            raise InvalidArgument(f"invalid IPv6 address: {ip6}") from None
    local = list(ipam.get("LinkLocalIPs") or [])
    for address in local:
        try:
            ipaddress.ip_address(address)
        except ValueError:
            raise InvalidArgument(f"Invalid link-local IP address: [{' '.join(local)}]"
                                  ) from None
    return {"Name": name, "IPv4Address": ip4,
            "IPv6Address": ip6, "LinkLocalIPs": local,
            "Aliases": list(ep.get("Aliases") or []), "MacAddress": ep.get("MacAddress") or None,
            "DriverOpts": ep.get("DriverOpts"), "Links": list(ep.get("Links") or [])}


def created_settings(wanted: dict[str, Any]) -> dict[str, Any]:
    """EndpointSettings of a network the container has not joined yet (created, or
    connected while stopped): what was asked, as dockerd shows it before the start."""
    return {"IPAMConfig": _ipam_config(wanted), "Links": wanted.get("Links") or None,
            "Aliases": list(wanted.get("Aliases") or []) or None,
            "MacAddress": wanted.get("MacAddress") or "", "DriverOpts": wanted.get("DriverOpts"),
            "NetworkID": "", "EndpointID": "", "Gateway": "", "IPAddress": "",
            "IPPrefixLen": 0, "IPv6Gateway": "", "GlobalIPv6Address": "",
            "GlobalIPv6PrefixLen": 0, "DNSNames": None}


def link_target(doc: dict[str, Any], name: str) -> str:
    """DNS on a user-defined network: an endpoint's link alias (EndpointSettings.Links,
    "name:alias") stands for the linked container's name, for the linking one only."""
    for w in doc.get(INTERNAL) or []:
        for link in w.get("Links") or []:
            target, _, alias = link.partition(":")
            if (alias or target).lower() == name:
                return target.lstrip("/").lower()
    return name


def _ipam_config(wanted: dict[str, Any]) -> dict[str, Any] | None:
    """EndpointSettings.IPAMConfig as dockerd shows it: what was asked, empty fields
    left out; null when nothing was."""
    out = {k: wanted[k] for k in ("IPv4Address", "IPv6Address", "LinkLocalIPs")
           if wanted.get(k)}
    return out or None


def _known_name(engine: Engine, ref: str) -> str:
    """The network's name; an unknown one as given: as dockerd 20.10, the create is
    recorded and its start refused (404 "network X not found"), since a 404 at create
    reads to docker's CLI as a missing image, and it pulls."""
    try:
        return engine.networks.find(ref)["Name"]
    except NotFound:
        return ref


def check_mac(mac: str) -> None:
    """A unicast MAC of six octets (the kernel refuses a multicast one for a veth)."""
    parts = mac.split(":")
    if len(parts) != 6 or not all(len(p) == 2 and all(c in "0123456789abcdefABCDEF"
                                                        for c in p) for p in parts):
        raise InvalidArgument(f"invalid MAC address: {mac}")
    if int(parts[0], 16) & 1:
        raise InvalidArgument(f"invalid MAC address: {mac} is a multicast address")


def _free_port(engine: Engine, proto: str, chosen: set[tuple[str, int]],
               v6: bool = False) -> int:
    """A port of the ephemeral range no socket of the host holds, that darse has not
    published (its IPv4 ports are the kernel's DNAT: no socket holds them) and that this
    container has not just been given; v6: free on [::] too (its IPv6 twin's)."""
    taken = set(chosen) | {(b[2], b[1]) for _, bs in engine.networks.published.values()
                           for b in bs}
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    for port in EPHEMERAL:
        if (proto, port) in taken:
            continue
        try:
            with socket.socket(socket.AF_INET, kind) as s:
                s.bind(("0.0.0.0", port))
            if v6:
                with socket.socket(socket.AF_INET6, kind) as s:
                    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                    s.bind(("::", port))
        except OSError:
            continue
        chosen.add((proto, port))
        return port
    raise Conflict("no free port in the ephemeral range")


def port_map(engine: Engine, doc: dict[str, Any], ipv6: bool = False
             ) -> dict[str, list[dict[str, str]] | None]:
    """NetworkSettings.Ports: PortBindings, and -P's ephemeral ports for EXPOSEd ones.
    As dockerd 20.10, a binding without a host address is bound on 0.0.0.0 and, when
    the host has IPv6, on :: too (HostIp "::", the same port): DNAT'd to the container's
    IPv6 address if it has one (ipv6), else carried to its IPv4 one by darsed's proxy
    (darse.network.proxy; TCP and UDP, as docker-proxy). An address given, 0.0.0.0
    included, is bound alone."""
    hc, cfg = doc["HostConfig"], doc["Config"]
    ports: dict[str, list[dict[str, str]] | None] = {}
    chosen: set[tuple[str, int]] = set()

    def bound(given: dict[str, str], key: str) -> list[dict[str, str]]:
        proto = key.split("/")[1]
        host_ip = given.get("HostIp") or ""
        twin = not host_ip and (ipv6 or proto in ("tcp", "udp")) and proxy.v6_listenable()
        host_port = given.get("HostPort") or str(_free_port(engine, proto, chosen, twin))
        out = [{"HostIp": host_ip or "0.0.0.0", "HostPort": host_port}]
        return out + [{"HostIp": "::", "HostPort": host_port}] if twin else out

    for key in cfg.get("ExposedPorts") or {}:
        ports[key] = None
    for key, bindings in (hc.get("PortBindings") or {}).items():
        key = key if "/" in key else f"{key}/tcp"
        ports[key] = [b for given in bindings or [] for b in bound(given, key)]
    if hc.get("PublishAllPorts"):
        for key, value in ports.items():
            if value is None:
                ports[key] = bound({}, key)
    return ports


def start(engine: Engine, doc: dict[str, Any]) -> str | None:
    """Plumb the container's networks; returns the namespace path for the OCI spec."""
    cid = doc["Id"]
    wanted = doc.get(INTERNAL) or []
    if not wanted:
        return None
    path = engine.networks.netns_path(cid)
    netns.delete(path)
    netns.create(path)
    settings = doc["NetworkSettings"]
    settings["Networks"] = {}
    try:
        netns.ipv6_off(path)
        for i, w in enumerate(wanted):
            net = engine.networks.find(w["Name"])
            # Config.MacAddress (docker run --mac-address) is the first network's.
            mac = w.get("MacAddress") or (doc["Config"].get("MacAddress") if i == 0 else None)
            ep = engine.networks.attach(cid, net, i, w.get("IPv4Address"), mac or None,
                                        w.get("IPv6Address"), w.get("LinkLocalIPs"))
            settings["Networks"][net["Name"]] = _endpoint_settings(doc, net, ep, w)
        primary = settings["Networks"][wanted[0]["Name"]]
        ports = port_map(engine, doc, bool(primary["GlobalIPv6Address"]))
        bindings = [(b["HostIp"], int(b["HostPort"]), key.split("/")[1], int(key.split("/")[0]))
                    for key, bs in ports.items() for b in bs or []]
        try:
            engine.networks.publish(cid, primary["IPAddress"], bindings,
                                    primary["GlobalIPv6Address"])
        except SystemFailure as exc:  # (a port taken, its proxy's bind refused)
            raise SystemFailure(f"driver failed programming external connectivity on "
                                f"endpoint {doc['Name'].lstrip('/')} "
                                f"({primary['EndpointID']}): {exc}") from None
        settings.update(IPAddress=primary["IPAddress"], IPPrefixLen=primary["IPPrefixLen"],
                        Gateway=primary["Gateway"], MacAddress=primary["MacAddress"],
                        GlobalIPv6Address=primary["GlobalIPv6Address"],
                        GlobalIPv6PrefixLen=primary["GlobalIPv6PrefixLen"],
                        IPv6Gateway=primary["IPv6Gateway"],
                        Ports=ports, SandboxKey=path, SandboxID=cid,
                        EndpointID=primary["EndpointID"],
                        Bridge="" if wanted[0]["Name"] != "bridge" else
                        engine.networks.bridge_name(engine.networks.find("bridge")))
        _write_etc(engine, doc, primary["IPAddress"], primary["GlobalIPv6Address"])
        if any(w["Name"] not in PREDEFINED for w in wanted):
            engine.dns.register(cid, path)
    except BaseException:
        stop(engine, doc)
        raise
    return path


def _endpoint_settings(doc: dict[str, Any], net: dict[str, Any], ep: dict[str, Any],
                       wanted: dict[str, Any]) -> dict[str, Any]:
    user_defined = net["Name"] not in PREDEFINED
    aliases = list(wanted.get("Aliases") or [])
    dns_names = [doc["Name"].lstrip("/"), doc["Id"][:12], *aliases] if user_defined else None
    return {"IPAMConfig": _ipam_config(wanted), "Links": wanted.get("Links") or None,
            "Aliases": aliases or None,
            "MacAddress": ep["MacAddress"], "DriverOpts": wanted.get("DriverOpts"),
            "NetworkID": net["Id"], "EndpointID": ep["EndpointID"],
            "Gateway": ep["Gateway"], "IPAddress": ep["IPAddress"],
            "IPPrefixLen": ep["IPPrefixLen"], "IPv6Gateway": ep.get("IPv6Gateway") or "",
            "GlobalIPv6Address": ep.get("GlobalIPv6Address") or "",
            "GlobalIPv6PrefixLen": ep.get("GlobalIPv6PrefixLen") or 0, "DNSNames": dns_names,
            "HostInterface": ep["HostInterface"]}


def _write_etc(engine: Engine, doc: dict[str, Any], ip: str, ip6: str = "") -> None:
    cdir = engine._dir(doc["Id"])
    cfg, hc = doc["Config"], doc["HostConfig"]
    from darse.engine import links

    extra = (hc.get("ExtraHosts") or []) + links.hosts_entries(engine, doc)
    text = etc_files.hosts(cfg["Hostname"], cfg.get("Domainname", ""), extra, ip)
    if ip6:  # as dockerd: the container's IPv6 address names it too
        text += etc_files.hosts(cfg["Hostname"], cfg.get("Domainname", ""), [], ip6
                                ).splitlines(keepends=True)[-1]
    etc_files.write(cdir, "hosts", text)
    user_defined = any(w["Name"] not in PREDEFINED for w in doc.get(INTERNAL) or [])
    if user_defined and not hc.get("Dns"):
        # The embedded DNS answers for the networks; it forwards the rest to the host's.
        _, search, options = etc_files._host_resolv()
        text = "nameserver 127.0.0.11\n"
        if hc.get("DnsSearch") or search:
            text += "search " + " ".join(hc.get("DnsSearch") or search) + "\n"
        opts = (hc.get("DnsOptions") or []) + ["ndots:0"]
        text += "options " + " ".join(opts) + "\n"
        etc_files.write(cdir, "resolv.conf", text)


def stop(engine: Engine, doc: dict[str, Any]) -> None:
    cid = doc["Id"]
    engine.dns.unregister(cid)
    engine.networks.release_container(cid)
    settings = doc.get("NetworkSettings") or {}
    for ep in (settings.get("Networks") or {}).values():
        for key in ("IPAddress", "Gateway", "MacAddress", "EndpointID", "GlobalIPv6Address",
                    "IPv6Gateway"):
            ep[key] = ""
        ep["IPPrefixLen"] = ep["GlobalIPv6PrefixLen"] = 0
    settings.update(IPAddress="", IPPrefixLen=0, Gateway="", MacAddress="", Ports={},
                    SandboxKey="", EndpointID="", GlobalIPv6Address="",
                    GlobalIPv6PrefixLen=0, IPv6Gateway="")


def readopt(engine: Engine, doc: dict[str, Any]) -> None:
    """A restarted darsed: the running container's endpoints, published ports and DNS
    come back from its record (the nftables table was made anew)."""
    settings = doc["NetworkSettings"]
    if settings.get("IPAddress"):
        bindings = [(b["HostIp"], int(b["HostPort"]), key.split("/")[1],
                     int(key.split("/")[0]))
                    for key, bs in (settings.get("Ports") or {}).items() for b in bs or []]
        try:
            engine.networks.publish(doc["Id"], settings["IPAddress"], bindings,
                                    settings.get("GlobalIPv6Address") or "", adopt=True)
        except SystemFailure as exc:  # a port two records hold (an older darse let it)
            print(f"darsed: container {doc['Id'][:12]}: {exc}", file=sys.stderr)
    for name, ep in (doc["NetworkSettings"].get("Networks") or {}).items():
        if ep.get("IPAddress") and ep.get("HostInterface"):
            # The bridge may be new (a cleaned-up host): put the veth back on it.
            engine.networks.enslave(ep["HostInterface"], engine.networks.find(name))
            engine.networks.endpoints[(ep["NetworkID"], doc["Id"])] = {
                "IPAddress": ep["IPAddress"], "IPPrefixLen": ep["IPPrefixLen"],
                "Gateway": ep["Gateway"], "MacAddress": ep["MacAddress"],
                "NetworkID": ep["NetworkID"], "EndpointID": ep["EndpointID"],
                "HostInterface": ep["HostInterface"],
                "GlobalIPv6Address": ep.get("GlobalIPv6Address") or "",
                "GlobalIPv6PrefixLen": ep.get("GlobalIPv6PrefixLen") or 0,
                "IPv6Gateway": ep.get("IPv6Gateway") or ""}
            if name not in PREDEFINED and doc["Id"] not in engine.dns.socks:
                try:
                    engine.dns.register(doc["Id"], engine.networks.netns_path(doc["Id"]))
                except OSError:
                    pass


def lookup(engine: Engine, asker: str, name: str, key: str = "IPAddress") -> str | None:
    """DNS: a container of a user-defined network that the asker is on too; key
    GlobalIPv6Address: its IPv6 address ("" when it has none there) for AAAA."""
    doc = engine.containers.get(asker)
    if doc is None:
        return None
    mine = {n for n in (doc["NetworkSettings"].get("Networks") or {}) if n not in PREDEFINED}
    if doc["HostConfig"].get("Links"):
        from darse.engine import links

        name = links.resolve_alias(doc, name)
    name = link_target(doc, name)
    for other in engine.containers.shared():
        if not other["State"]["Running"]:
            continue
        for net_name, ep in (other["NetworkSettings"].get("Networks") or {}).items():
            if net_name not in mine or not ep.get("IPAddress"):
                continue
            names = {n.lower() for n in (ep.get("DNSNames") or [])}
            names |= {f"{n}.{net_name}".lower() for n in list(names)}
            if name in names:
                return ep.get(key) or ""
    return None


def reverse_lookup(engine: Engine, asker: str, address: str) -> str | None:
    """DNS PTR: `name.network` for an address on a network the asker is on (what
    iputils' ping prints: 64 bytes from c1.monreseau0 (192.168.0.2))."""
    doc = engine.containers.get(asker)
    if doc is None:
        return None
    mine = {n for n in (doc["NetworkSettings"].get("Networks") or {}) if n not in PREDEFINED}
    for other in engine.containers.shared():
        for net_name, ep in (other["NetworkSettings"].get("Networks") or {}).items():
            if net_name in mine and address in (ep.get("IPAddress"),
                                                ep.get("GlobalIPv6Address")):
                return f"{other['Name'].lstrip('/')}.{net_name}"
    return None


def connect(engine: Engine, doc: dict[str, Any], net: dict[str, Any], ip: str | None,
            aliases: list[str], endpoint: dict[str, Any] | None = None) -> None:
    """endpoint: the request's EndpointConfig (its IPv6 address, link-local addresses
    and DriverOpts; ip and aliases win over its own)."""
    wanted = doc.setdefault(INTERNAL, [])
    if any(w["Name"] == net["Name"] for w in wanted) or \
            net["Name"] in (doc["NetworkSettings"].get("Networks") or {}):
        raise Conflict(f"endpoint with name {doc['Name'].lstrip('/')} already exists in "
                       f"network {net['Name']}")
    if doc["HostConfig"].get("NetworkMode") in ("host", "none"):
        raise Conflict("container cannot be disconnected from host network or connected to "
                       "host network")
    w = wanted_endpoint(net["Name"], endpoint or {})
    if w["MacAddress"]:
        check_mac(w["MacAddress"])
    w.update(IPv4Address=ip or w["IPv4Address"], Aliases=list(aliases or w["Aliases"]))
    if net["Name"] == "bridge" and (w["IPv4Address"] or w["IPv6Address"]):
        raise InvalidArgument("user specified IP address is supported on user defined "
                              "networks only")
    if w["IPv4Address"] and net.get(AUTO_V4):  # refused now, running or not, as dockerd
        raise InvalidArgument("user specified IP address is supported only when connecting "
                              "to networks with user configured subnets")
    wanted.append(w)
    if doc["State"]["Running"]:
        try:
            ep = engine.networks.attach(doc["Id"], net, len(doc["NetworkSettings"]["Networks"]),
                                        w["IPv4Address"], None, w["IPv6Address"],
                                        w["LinkLocalIPs"])
        except BaseException:
            wanted.remove(w)  # refused (an address taken...): the record as it was
            raise
        doc["NetworkSettings"]["Networks"][net["Name"]] = _endpoint_settings(doc, net, ep, w)
        if net["Name"] not in PREDEFINED:
            if doc["Id"] not in engine.dns.socks:
                engine.dns.register(doc["Id"], engine.networks.netns_path(doc["Id"]))
            # As Docker: joining a user-defined network turns the embedded DNS on (the
            # files are bind mounts: rewritten in place, the container sees them).
            settings = doc["NetworkSettings"]
            _write_etc(engine, doc, settings.get("IPAddress") or ep["IPAddress"],
                       settings.get("GlobalIPv6Address") or ep["GlobalIPv6Address"])
    else:
        # as dockerd: a container not running shows the network now, joined at its start
        doc["NetworkSettings"].setdefault("Networks", {})[net["Name"]] = {
            "IPAMConfig": _ipam_config(w) or {}, "Links": w["Links"] or None,
            "Aliases": list(w["Aliases"]) or None, "MacAddress": w["MacAddress"] or "",
            "DriverOpts": w["DriverOpts"] if w["DriverOpts"] is not None else {},
            "NetworkID": "", "EndpointID": "", "Gateway": "", "IPAddress": "",
            "IPPrefixLen": 0, "IPv6Gateway": "", "GlobalIPv6Address": "",
            "GlobalIPv6PrefixLen": 0, "DNSNames": None}


def disconnect(engine: Engine, doc: dict[str, Any], net: dict[str, Any]) -> None:
    wanted = doc.get(INTERNAL) or []
    if not any(w["Name"] == net["Name"] for w in wanted):
        raise Conflict(f"container {doc['Id']} is not connected to network {net['Name']}")
    doc[INTERNAL] = [w for w in wanted if w["Name"] != net["Name"]]
    (doc["NetworkSettings"].get("Networks") or {}).pop(net["Name"], None)
    if doc["State"]["Running"]:
        engine.networks.detach(doc["Id"], net["Id"])


def users(engine: Engine, net: dict[str, Any]) -> list[str]:
    return [d["Id"] for d in engine.containers.shared()
            if any(w["Name"] == net["Name"] for w in d.get(INTERNAL) or [])]


def network_view(engine: Engine, net: dict[str, Any]) -> dict[str, Any]:
    """network inspect: the record (less darse's private keys) and the containers
    attached now."""
    out = {k: v for k, v in net.items() if not k.startswith("_")}
    containers = {}
    for d in engine.containers.shared():
        ep = (d["NetworkSettings"].get("Networks") or {}).get(net["Name"])
        if ep and ep.get("IPAddress"):
            containers[d["Id"]] = {"Name": d["Name"].lstrip("/"), "EndpointID":
                                   ep["EndpointID"], "MacAddress": ep["MacAddress"],
                                   "IPv4Address": f"{ep['IPAddress']}/{ep['IPPrefixLen']}",
                                   "IPv6Address": f"{ep['GlobalIPv6Address']}/"
                                   f"{ep['GlobalIPv6PrefixLen']}"
                                   if ep.get("GlobalIPv6Address") else ""}
    out["Containers"] = containers
    return out


def check_container_mode(engine: Engine, mode: str) -> None:
    if mode.startswith("container:"):
        try:
            engine.containers.find(mode.split(":", 1)[1])
        except NotFound:
            raise NotFound(f"No such container: {mode.split(':', 1)[1]}") from None
