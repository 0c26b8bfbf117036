"""Networks and endpoints: Docker's bridge driver on netlink and nftables.

The predefined networks are `bridge` (the host bridge darse0, or daemon.json's "bridge",
addressed from "bip", "default-address-pools" or 172.17.0.1/16), `host` and `none`.
A container on a bridge network gets a network namespace pinned under the exec root,
a veth pair (host end darse<hex> on the bridge, the other end eth0, eth1...), an address
from the network, the default route (first network), and lo up.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import secrets
import sqlite3
import sys
import threading
from typing import Any

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from darse.db import Database
from darse.errors import Conflict, DarseError, InvalidArgument, NotFound, SystemFailure
from darse.network import bridge, ipam, netns, nftables, proxy

SCHEMA = """
CREATE TABLE IF NOT EXISTS networks (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    doc TEXT NOT NULL
);
"""
PREDEFINED = ("bridge", "host", "none")
# The record's private key of a network whose IPv4 subnet darse chose (no --subnet): as
# dockerd, no --ip there (its address could change with the pool's next choice).
AUTO_V4 = "_auto_v4"
BRIDGE_NAME_OPT = "com.docker.network.bridge.name"
# What one network's host side can meet at start or stop (its interface taken, a kernel
# refusal, a record left broken): logged, and the other networks go on.
RECORD_FAULTS = (DarseError, OSError, NetlinkError, LookupError, ValueError, TypeError)


def _is_cidr(text: str) -> bool:
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return "/" in text


def v4_config(doc: dict[str, Any]) -> dict[str, Any]:
    """The network's IPv4 IPAM config (a record's configs are v4, then v6)."""
    return ipam.split(doc["IPAM"]["Config"] or [])[0] or {}


def v6_config(doc: dict[str, Any]) -> dict[str, Any] | None:
    """The IPv6 config the network uses: none unless IPv6 is enabled (dockerd keeps
    a v6 subnet given without --ipv6 in the record, and uses none of it)."""
    if not doc.get("EnableIPv6"):
        return None
    return ipam.split(doc["IPAM"]["Config"] or [])[1]


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat().replace("+00:00", "Z")


def _host(ip: str) -> str:
    return f"[{ip}]" if ":" in ip else ip


def _check_bound(bound: list[tuple[str, str, int]], host_ip: str, proto: str,
                 port: int) -> None:
    """A binding against the (address, proto, port)s darse's other containers hold, as
    dockerd refuses it: the same address is its port allocator's refusal; a wildcard
    and an address of the same family overlap, where its docker-proxy's bind fails (no
    socket holds darse's IPv4 ports: said here)."""
    v6 = ":" in host_ip
    for ip_, p, held in bound:
        if (p, held) != (proto, port) or (":" in ip_) != v6:
            continue
        if ip_ == host_ip:
            raise SystemFailure(f"Bind for {_host(host_ip)}:{port} failed: port is already "
                                f"allocated")
        if "0.0.0.0" in (ip_, host_ip) or "::" in (ip_, host_ip):
            raise SystemFailure(f"Error starting userland proxy: listen {proto}"
                                f"{6 if v6 else 4} {_host(host_ip)}:{port}: bind: address "
                                f"already in use")


def _check_aux(aux: dict[str, str] | None, net: ipam.Network) -> None:
    for addr in (aux or {}).values():
        try:
            inside = ipaddress.ip_address(addr) in net
        except ValueError:
            raise InvalidArgument(f"invalid auxiliary address {addr}") from None
        if not inside:
            raise InvalidArgument(f"no matching subnet for aux-address {addr}")


class NetworkManager:
    def __init__(self, db: Database, exec_root: str, default_bridge: str = "darse0",
                 bip: str = "", pools: list[dict] | None = None, ipv6: bool = False,
                 fixed_cidr_v6: str = "") -> None:
        self.db = db
        self.db.schema(SCHEMA)
        self.netns_dir = os.path.join(exec_root, "netns")
        self.default_bridge = default_bridge
        self.bip = bip
        self.pools = pools or []
        # daemon.json's "ipv6" and "fixed-cidr-v6": the default bridge's IPv6
        self.ipv6 = bool(ipv6)
        self.fixed_cidr_v6 = ""
        if fixed_cidr_v6:  # (dockerd checks it whether or not "ipv6" is on)
            net = ipaddress.ip_network(fixed_cidr_v6, strict=False) \
                if _is_cidr(fixed_cidr_v6) else None
            if net is None:
                raise InvalidArgument(f"Error initializing network controller: invalid CIDR "
                                      f"address: {fixed_cidr_v6}")
            if net.version != 6:
                raise InvalidArgument(f"Error initializing network controller: fixed-cidr-v6 "
                                      f"{fixed_cidr_v6} is not an IPv6 subnet")
            self.fixed_cidr_v6 = str(net)
        if self.ipv6 and not self.fixed_cidr_v6:
            raise InvalidArgument("Error initializing network controller: IPv6 is enabled for "
                                  "the default bridge, but no subnet is configured. Specify "
                                  "an IPv6 subnet using --fixed-cidr-v6")
        # One table per daemon: a test daemon must not touch the system's darse table.
        nftables.TABLE = "darse" if default_bridge == "darse0" else f"darse_{default_bridge}"
        self.lock = threading.RLock()
        self.endpoints: dict[tuple[str, str], dict[str, Any]] = {}  # (net id, cid) -> ep
        self._ipr: IPRoute | None = None
        # cid -> its DNAT elements, and the bindings they stand for
        self.published: dict[str, tuple[list[nftables.Port], list[tuple[str, int, str, int]]]
                             ] = {}
        self.proxies: dict[str, list[proxy.Proxy]] = {}  # cid -> its IPv6 ports' sockets
        # Refused before anything starts (the shim, the table): a default bridge name that
        # names an interface which is not a bridge, a table of someone else's.
        try:
            bridge.inspect(self.ipr(), default_bridge)
        except InvalidArgument as exc:
            raise InvalidArgument(f'Error creating default "bridge" network: {exc}') from None
        nftables.check()

    def ipr(self) -> IPRoute:
        """One host-side netlink connection, kept (opening one costs milliseconds)."""
        if self._ipr is None:
            self._ipr = IPRoute()
        return self._ipr

    # --- records ----------------------------------------------------------------------

    def _save(self, doc: dict[str, Any]) -> None:
        raw = json.dumps(doc)
        row = self.db.execute("SELECT doc FROM networks WHERE id=?", (doc["Id"],)).fetchone()
        if row is not None and row["doc"] == raw:
            return  # no write: darsed's start on a full disk saves what did not change
        self.db.execute("INSERT OR REPLACE INTO networks VALUES (?,?,?)",
                        (doc["Id"], doc["Name"], raw))

    def all(self) -> list[dict[str, Any]]:
        return [json.loads(r["doc"]) for r in self.db.execute("SELECT doc FROM networks")]

    def annotate(self, net_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Record fields that change nothing on the host (Attachable, IPAM Options)."""
        doc = self.find(net_id)
        doc.update(fields)
        self._save(doc)
        return doc

    def find(self, ref: str) -> dict[str, Any]:
        row = self.db.execute("SELECT doc FROM networks WHERE name=? OR id=?",
                              (ref, ref)).fetchone()
        if row:
            return json.loads(row["doc"])
        if ref and all(c in "0123456789abcdef" for c in ref):
            rows = self.db.execute("SELECT doc FROM networks WHERE id LIKE ?",
                                   (ref + "%",)).fetchall()
            if len(rows) == 1:
                return json.loads(rows[0]["doc"])
        raise NotFound(f"network {ref} not found")

    def _doc(self, name: str, driver: str, subnet: str | None, gateway: str | None,
             options: dict[str, str], labels: dict[str, str], internal: bool,
             ip_range: str | None = None, aux: dict[str, str] | None = None,
             enable_ipv6: bool = False, v6: dict[str, Any] | None = None
             ) -> dict[str, Any]:
        config = []
        if subnet:
            entry = {"Subnet": subnet, "Gateway": gateway}
            if ip_range:
                entry["IPRange"] = ip_range
            if aux:
                entry["AuxiliaryAddresses"] = dict(aux)
            config.append(entry)
        if v6 and v6.get("Subnet"):
            # as dockerd shows it: only what was given (no Gateway unless given)
            config.append({k: v6[k] for k in ("Subnet", "IPRange", "Gateway",
                                                "AuxiliaryAddresses") if v6.get(k)})
        return {"Name": name, "Id": secrets.token_hex(32), "Created": _now(), "Scope": "local",
                "Driver": driver, "EnableIPv4": True, "EnableIPv6": enable_ipv6,
                "IPAM": {"Driver": "default", "Options": None, "Config": config},
                "Internal": internal, "Attachable": False, "Ingress": False,
                "ConfigFrom": {"Network": ""}, "ConfigOnly": False, "Containers": {},
                "Options": options, "Labels": labels}

    # --- the host side ---------------------------------------------------------------

    def setup(self) -> None:
        """At darsed's start: the table, the predefined networks, every bridge up."""
        nftables.setup()
        with open("/proc/sys/net/ipv4/ip_forward", "w") as f:
            f.write("1")
        self._forwarding6 = False
        existing = {d["Name"]: d for d in self.all()}
        doc = existing.get("bridge")
        if doc is None:
            doc = self._doc("bridge", "bridge", None, None, {
                "com.docker.network.bridge.default_bridge": "true",
                "com.docker.network.bridge.enable_icc": "true",
                "com.docker.network.bridge.enable_ip_masquerade": "true",
                "com.docker.network.bridge.host_binding_ipv4": "0.0.0.0",
                BRIDGE_NAME_OPT: self.default_bridge,
                "com.docker.network.driver.mtu": "1500"}, {}, False)
            doc[bridge.HOST] = bridge.fresh()
        elif self.bridge_name(doc) != self.default_bridge:
            # daemon.json names another bridge now: leave the former one as darse found it.
            self._bridge_down(doc)
            doc["Options"][BRIDGE_NAME_OPT] = self.default_bridge
            doc[bridge.HOST] = bridge.fresh()
        self._default_address(doc)
        self._default_ipv6(doc)
        self._save(doc)
        # dockerd's drivers: "host" and "null" (an older darse wrote "none": mended)
        for name, driver in (("host", "host"), ("none", "null")):
            if name not in existing:
                self._save(self._doc(name, driver, None, None, {}, {}, False))
            elif existing[name]["Driver"] != driver:
                self._save({**existing[name], "Driver": driver})
        for doc in self.all():
            if doc["Driver"] != "bridge":
                continue
            try:
                self._bridge_up(doc)
            except RECORD_FAULTS as exc:
                if doc["Name"] == "bridge":
                    raise InvalidArgument(f'Error creating default "bridge" network: {exc}'
                                          ) from None
                # One network's bridge gone wrong (its name taken by someone else's
                # interface, a record left broken) must not keep darsed and the other
                # networks down.
                print(f"darsed: network {doc['Name']}: {exc!r}", file=sys.stderr)

    def _default_address(self, doc: dict[str, Any]) -> None:
        """The default bridge's subnet: "bip"; else, as dockerd does with its -b, the
        address of a bridge someone else made; else the one it had, or a free pool."""
        if self.bip:
            iface = ipaddress.ip_interface(self.bip)
            subnet, gateway = str(iface.network), str(iface.ip)
        else:
            host = bridge.record(doc, self.default_bridge)
            found = bridge.theirs(self.ipr(), self.default_bridge, host)
            config = doc["IPAM"]["Config"]
            if found and not any(f"{c.get('Gateway')}/"
                                 f"{ipaddress.ip_network(c['Subnet']).prefixlen}"
                                 == str(a) for c in config for a in found):
                subnet, gateway = str(found[0].network), str(found[0].ip)
            elif config:
                return
            else:
                net = ipam.choose_subnet(self.pools, self._taken())
                subnet, gateway = str(net), str(next(net.hosts()))
        doc["IPAM"]["Config"] = [{"Subnet": subnet, "Gateway": gateway}]

    def _default_ipv6(self, doc: dict[str, Any]) -> None:
        """The default bridge's IPv6, as daemon.json says now: "ipv6" turns it on,
        "fixed-cidr-v6" is its subnet (containers' addresses made from their MAC)."""
        v4 = v4_config(doc)
        doc["EnableIPv6"] = self.ipv6
        doc["IPAM"]["Config"] = [v4] if v4 else []
        if self.ipv6 and self.fixed_cidr_v6:
            net = ipaddress.ip_network(self.fixed_cidr_v6)
            if ipam.overlaps(net, self._taken(6, but="bridge")):
                raise Conflict("Pool overlaps with other one on this address space")
            doc["IPAM"]["Config"].append({"Subnet": self.fixed_cidr_v6})

    def _taken(self, version: int = 4, but: str = "") -> list[ipam.Network]:
        """Every network's subnets of that IP version (a v6 one given without --ipv6
        counts: dockerd's IPAM holds it all the same); but: a network's name left out."""
        return [n for d in self.all() if d["Name"] != but
                for c in d["IPAM"]["Config"] or () if c.get("Subnet")
                for n in [ipaddress.ip_network(c["Subnet"], strict=False)]
                if n.version == version]

    def bridge_name(self, doc: dict[str, Any]) -> str:
        return doc["Options"].get(BRIDGE_NAME_OPT) or f"darse-{doc['Id'][:9]}"  # IFNAMSIZ

    def _bridge_up(self, doc: dict[str, Any]) -> None:
        name = self.bridge_name(doc)
        cfg = v4_config(doc)
        gateway = ipaddress.IPv4Interface(
            f"{cfg['Gateway']}/{ipaddress.ip_network(cfg['Subnet']).prefixlen}")
        cfg6 = v6_config(doc)
        host = bridge.record(doc, name)
        try:
            with self.lock:
                bridge.up(self.ipr(), name, gateway, host)
                if cfg6:
                    bridge.up6(self.ipr(), name, ipaddress.IPv6Interface(
                        f"{ipam.gateway(cfg6)}/"
                        f"{ipaddress.ip_network(cfg6['Subnet'], strict=False).prefixlen}"),
                        host)
                else:
                    bridge.down6(self.ipr(), name, host)
        finally:
            try:
                self._save(doc)  # what darse made, even if a later step failed
            except sqlite3.OperationalError as exc:
                # A full disk: darsed starts all the same; its record of the bridge is
                # the older one (the --cleanup stop then leaves this bridge in place).
                print(f"darsed: network {doc['Name']}: record not saved: {exc}",
                      file=sys.stderr)
        # 127.0.0.1:PORT published into this bridge: local sources may be routed out.
        with open(f"/proc/sys/net/ipv4/conf/{name}/route_localnet", "w") as f:
            f.write("1")
        nftables.remove_network(name, cfg["Subnet"], doc["Internal"])
        nftables.add_network(name, cfg["Subnet"], doc["Internal"])
        if cfg6:
            self._enable_forwarding6()
            nftables.remove_network(name, cfg6["Subnet"], doc["Internal"])
            nftables.add_network(name, cfg6["Subnet"], doc["Internal"])

    def _enable_forwarding6(self) -> None:
        """As dockerd's bridge driver does for an IPv6 network: the host routes IPv6
        (what leaves a network for another host, or comes to a published port)."""
        if getattr(self, "_forwarding6", False):
            return
        for key in ("default", "all"):
            with open(f"/proc/sys/net/ipv6/conf/{key}/forwarding", "r+") as f:
                if f.read().strip() != "1":
                    f.seek(0)
                    f.write("1")
        self._forwarding6 = True

    def _bridge_down(self, doc: dict[str, Any]) -> None:
        """What darse made for the network, and only that (see darse.network.bridge)."""
        name = self.bridge_name(doc)
        for cfg in doc["IPAM"]["Config"] or []:  # (none: a record left broken)
            if cfg.get("Subnet"):  # both families' elements, if there
                nftables.remove_network(name, cfg["Subnet"], doc["Internal"])
        with self.lock:
            bridge.down(self.ipr(), name, bridge.record(doc, name))

    # --- networks ------------------------------------------------------------------------

    def create(self, name: str, driver: str = "bridge", subnet: str | None = None,
               gateway: str | None = None, ip_range: str | None = None,
               internal: bool = False, options: dict[str, str] | None = None,
               labels: dict[str, str] | None = None,
               aux: dict[str, str] | None = None, enable_ipv6: bool = False,
               v6: dict[str, Any] | None = None) -> dict[str, Any]:
        """v6: the IPv6 IPAM config (Subnet, Gateway, IPRange, AuxiliaryAddresses)."""
        driver = driver or "bridge"
        if driver != "bridge":
            raise NotFound(f"plugin \"{driver}\" not found")
        if name in PREDEFINED:
            raise Conflict(f"network with name {name} already exists")
        options = dict(options or {})
        with self.lock:  # the name's check and its record in one step: one create wins
            if self.db.execute("SELECT 1 FROM networks WHERE name=?", (name,)).fetchone():
                raise Conflict(f"network with name {name} already exists")
            taken = self._taken()
            name_opt = options.get(BRIDGE_NAME_OPT)
            if name_opt:
                if len(name_opt) > 15:
                    raise InvalidArgument(f"bridge name {name_opt} is too long: at most 15 "
                                          f"characters")
                # Refused before anything is made: what the kernel refuses in an interface
                # name (in dockerd's words, its netlink error's), and a quote, which
                # nftables cannot hold in a string.
                if name_opt in (".", "..") or any(c in name_opt for c in "/:") or \
                        any(c.isspace() for c in name_opt):
                    raise SystemFailure("invalid argument")
                if '"' in name_opt:
                    raise InvalidArgument(f"bridge name {name_opt} holds a quote: darse's "
                                          f"nftables rules cannot name it")
                if any(self.bridge_name(d) == name_opt for d in self.all()):
                    raise Conflict(f"bridge name {name_opt} is already in use")
                found = bridge.theirs(self.ipr(), name_opt, bridge.fresh())  # not a bridge?
                if found and not subnet:
                    # Someone else's bridge, addressed: its subnet, as it is.
                    subnet, gateway = str(found[0].network), gateway or str(found[0].ip)
            if subnet:
                net = ipam.parse_subnet(subnet)
                if ipam.overlaps(net, taken):
                    raise Conflict("Pool overlaps with other one on this address space")
            auto = not subnet
            if auto:
                net = ipam.choose_subnet(self.pools[1:] or ipam.DEFAULT_POOLS, taken)
            if gateway:
                if ipaddress.ip_address(gateway) not in net:
                    raise InvalidArgument(f"no matching subnet for gateway {gateway}")
            else:
                gateway = str(next(net.hosts()))
            if ip_range and not ipaddress.ip_network(ip_range, strict=False).subnet_of(net):
                raise InvalidArgument(f"no matching subnet for range {ip_range}")
            _check_aux(aux, net)
            v6 = self._check_v6(dict(v6 or {}), enable_ipv6)
            doc = self._doc(name, driver, str(net), gateway, options, labels or {}, internal,
                            ip_range, aux, enable_ipv6, v6)
            doc[bridge.HOST] = bridge.fresh()
            if auto:
                doc[AUTO_V4] = True
            # Recorded before the host side is made, so that a crash midway leaves a record
            # the next start completes (or rm removes), never a bridge nobody knows of.
            self._save(doc)
            try:
                self._bridge_up(doc)
            except BaseException:
                try:
                    self._bridge_down(doc)
                finally:  # whatever the undo met, no record of a network that failed
                    self.db.execute("DELETE FROM networks WHERE id=?", (doc["Id"],))
                raise
        return doc

    def _check_v6(self, v6: dict[str, Any], enabled: bool) -> dict[str, Any]:
        """A network's IPv6 config, checked as dockerd 20.10 does. With --ipv6 there must
        be one (dockerd has no default IPv6 pools); without, one given is still kept and
        held (never used)."""
        if not v6.get("Subnet"):
            if enabled:
                raise Conflict("could not find an available, non-overlapping IPv6 address "
                               "pool among the defaults to assign to the network")
            return {}
        net = ipam.parse_subnet(v6["Subnet"])
        if ipam.overlaps(net, self._taken(6)):
            raise Conflict("Pool overlaps with other one on this address space")
        for key, what in (("Gateway", "gateway"), ("IPRange", "range")):
            if not v6.get(key):
                continue
            try:
                inside = ipaddress.ip_network(v6[key], strict=False).subnet_of(net)
            except (ValueError, TypeError):
                inside = False
            if not inside:
                raise InvalidArgument(f"no matching subnet for {what} {v6[key]}")
        _check_aux(v6.get("AuxiliaryAddresses"), net)
        return v6

    def remove(self, ref: str, users: list[str]) -> None:
        doc = self.find(ref)
        if doc["Name"] in PREDEFINED:
            raise Conflict(f"{doc['Name']} is a pre-defined network and cannot be removed")
        if users:
            raise Conflict(f"error while removing network: network {doc['Name']} id "
                           f"{doc['Id']} has active endpoints")
        with self.lock:
            self._bridge_down(doc)
            self.db.execute("DELETE FROM networks WHERE id=?", (doc["Id"],))

    def teardown(self) -> None:
        """Everything darse put on the host for its networks (darsed's clean stop)."""
        for doc in self.all():
            if doc["Driver"] == "bridge":
                try:
                    self._bridge_down(doc)
                except RECORD_FAULTS as exc:
                    # The others' bridges still go, and the table with them.
                    print(f"darsed: network {doc['Name']}: {exc!r}", file=sys.stderr)
        nftables.teardown()

    # --- endpoints ------------------------------------------------------------------------

    def netns_path(self, container_id: str) -> str:
        return os.path.join(self.netns_dir, container_id)

    def attach(self, container_id: str, net: dict[str, Any], index: int,
               requested_ip: str | None = None,
               requested_mac: str | None = None, requested_ip6: str | None = None,
               link_local: list[str] | None = None) -> dict[str, Any]:
        """A veth into the container's namespace as eth<index>; returns the endpoint."""
        cfg = v4_config(net)
        subnet = ipaddress.ip_network(cfg["Subnet"])
        with self.lock:
            # as dockerd: the auxiliary addresses are the host's, never a container's
            used = {cfg["Gateway"], *(cfg.get("AuxiliaryAddresses") or {}).values()} | {
                ep["IPAddress"] for (nid, _), ep in self.endpoints.items()
                if nid == net["Id"]}
            if requested_ip:
                if net.get(AUTO_V4):
                    raise InvalidArgument("user specified IP address is supported only when "
                                          "connecting to networks with user configured "
                                          "subnets")
                if ipaddress.ip_address(requested_ip) not in subnet:
                    raise InvalidArgument(f"Invalid address {requested_ip}: It does not "
                                          f"belong to any of this network's subnets")
                if requested_ip in used:
                    raise Conflict("Address already in use")  # dockerd's words, no address
                ip = requested_ip
            else:
                ip = ipam.first_free(subnet, used, cfg.get("IPRange"))
            mac = requested_mac or \
                "02:42:" + ":".join(f"{b:02x}" for b in ipaddress.ip_address(ip).packed)
            ip6 = self._address6(net, mac, requested_ip6)
            host_if = f"darse{secrets.token_hex(4)}"[:15]
            peer = f"dp{secrets.token_hex(4)}"
            path = self.netns_path(container_id)
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                ipr = self.ipr()
                ipr.link("add", ifname=host_if, kind="veth",
                         peer={"ifname": peer, "net_ns_fd": fd, "address": mac})
                bridge = ipr.link_lookup(ifname=self.bridge_name(net))[0]
                h = ipr.link_lookup(ifname=host_if)[0]
                ipr.link("set", index=h, master=bridge, state="up")
            finally:
                os.close(fd)
            with netns.Inside(path, (peer, "lo")) as inside:
                idx = inside.link_up(peer, rename=f"eth{index}")
                if ip6 or any(":" in a for a in link_local or ()):
                    netns.ipv6_on(path, f"eth{index}")  # (made with IPv6 off: see ipv6_off)
                inside.link_up("lo")
                inside.addr(idx, ip, subnet.prefixlen)
                if ip6:
                    inside.addr(idx, ip6[0], ip6[1], nodad=True)
                for local in link_local or ():
                    # as dockerd: IPv4 ones in 169.254.0.0/16, IPv6 ones in fe80::/64
                    inside.addr(idx, local, 16 if ipaddress.ip_address(local).version == 4
                                else 64)
                if index == 0 and not net["Internal"]:
                    inside.default_route(cfg["Gateway"])  # internal: no way out at all
                    if ip6:
                        inside.default_route(ip6[2])
            ep = {"IPAddress": ip, "IPPrefixLen": subnet.prefixlen, "Gateway": cfg["Gateway"],
                  "MacAddress": mac, "NetworkID": net["Id"], "EndpointID": secrets.token_hex(32),
                  "HostInterface": host_if, "GlobalIPv6Address": ip6[0] if ip6 else "",
                  "GlobalIPv6PrefixLen": ip6[1] if ip6 else 0,
                  "IPv6Gateway": ip6[2] if ip6 else ""}
            self.endpoints[(net["Id"], container_id)] = ep
            return ep

    def _address6(self, net: dict[str, Any], mac: str, requested: str | None
                  ) -> tuple[str, int, str] | None:
        """The endpoint's IPv6 (address, prefix length, gateway), None on a network
        without IPv6 (where dockerd keeps an --ip6 in the record and gives nothing).
        The default bridge's is made from the MAC, as dockerd's fixed-cidr-v6; a
        user-defined network's is the lowest free one, or the one asked."""
        cfg = v6_config(net)
        if not cfg:
            return None
        subnet = ipaddress.ip_network(cfg["Subnet"], strict=False)
        gateway = ipam.gateway(cfg)
        used = {gateway, *(cfg.get("AuxiliaryAddresses") or {}).values()} | {
            ep.get("GlobalIPv6Address") for (nid, _), ep in self.endpoints.items()
            if nid == net["Id"]}
        if requested:
            address = ipaddress.ip_address(requested)
            if address not in subnet:
                raise InvalidArgument(f"Invalid address {requested}: It does not belong to "
                                      f"any of this network's subnets")
            if str(address) in used:
                raise Conflict("Address already in use")
            return str(address), subnet.prefixlen, gateway
        if net["Name"] == "bridge":
            return ipam.from_mac(subnet, mac), subnet.prefixlen, gateway
        return ipam.first_free(subnet, {u for u in used if u}, cfg.get("IPRange")), \
            subnet.prefixlen, gateway

    def enslave(self, host_if: str, net: dict[str, Any]) -> None:
        with self.lock:
            ipr = self.ipr()
            idx = ipr.link_lookup(ifname=host_if)
            bridge = ipr.link_lookup(ifname=self.bridge_name(net))
            if idx and bridge:
                ipr.link("set", index=idx[0], master=bridge[0], state="up")

    def detach(self, container_id: str, net_id: str) -> None:
        with self.lock:
            ep = self.endpoints.pop((net_id, container_id), None)
        if ep:
            with self.lock:
                ipr = self.ipr()
                idx = ipr.link_lookup(ifname=ep["HostInterface"])
                if idx:
                    ipr.link("del", index=idx[0])

    def release_container(self, container_id: str) -> None:
        """The container is gone: its endpoints, published ports and namespace too. The
        veths are not deleted one by one: when the namespace goes, the kernel deletes
        them with it (and a synchronous veth delete costs milliseconds)."""
        with self.lock:
            for key in [k for k in self.endpoints if k[1] == container_id]:
                del self.endpoints[key]
        with self.lock:
            entry = self.published.pop(container_id, None)
            proxies = self.proxies.pop(container_id, [])
        for p in proxies:
            p.close()
        if entry:
            nftables.remove_ports(entry[0])
        netns.delete(self.netns_path(container_id))

    def publish(self, container_id: str, ip: str, bindings: list[tuple[str, int, str, int]],
                ip6: str = "", adopt: bool = False) -> None:
        """DNAT of the bindings to the container: those of an IPv6 host address ("::",
        "::1"...) to its IPv6 address ip6, the others to its IPv4 address ip. Each IPv6
        one is also a socket of darsed's proxy there, as dockerd's docker-proxy: it
        carries what the DNAT cannot (all of it to ip when the container has no IPv6
        address; [::1] to ip6) and holds the port. adopt: a running container's ports
        again (a restarted darsed): what can be made is, a listener that cannot is told."""
        if not bindings:
            return
        v6 = [b for b in bindings if ":" in (b[0] or "")]
        v4 = [b for b in bindings if ":" not in (b[0] or "")]
        if not ip6 and any(b[2] not in ("tcp", "udp") for b in v6):
            # (darsed's proxy carries TCP and UDP; no kernel DNAT turns IPv6 into IPv4)
            b = next(b for b in v6 if b[2] not in ("tcp", "udp"))
            raise InvalidArgument(f"cannot publish {b[2]} on {_host(b[0])}:{b[1]}: the "
                                  f"container has no IPv6 address (a network created with "
                                  f"--ipv6 gives one)")
        with self.lock:
            bound = [(b[0] or "0.0.0.0", b[2], b[1]) for cid, (_, bs) in self.published.items()
                     if cid != container_id for b in bs]
            # In dockerd's order (each binding's IPv4 listener, then its IPv6 one), so
            # that a port taken is refused in the words dockerd would use.
            proxies: list[proxy.Proxy] = []
            keys: list[nftables.Port] = []
            try:
                for host_ip, host_port, proto, port in bindings:
                    _check_bound(bound, host_ip or "0.0.0.0", proto, host_port)
                    bound.append((host_ip or "0.0.0.0", proto, host_port))
                    if ":" not in (host_ip or ""):
                        if not adopt:
                            proxy.check_free(proto, host_ip or "0.0.0.0", host_port)
                        continue
                    if proto not in ("tcp", "udp"):
                        continue
                    try:
                        proxies.append(proxy.Proxy(proto, host_ip, host_port, ip6 or ip, port))
                    except SystemFailure as exc:
                        if not adopt:
                            raise
                        # (its port taken while darsed was down: the others still work)
                        print(f"darsed: container {container_id[:12]}: {exc}",
                              file=sys.stderr)
                keys += nftables.add_ports(ip, v4) if v4 else []
                keys += nftables.add_ports(ip6, v6) if v6 and ip6 else []
            except BaseException:
                for p in proxies:
                    p.close()
                nftables.remove_ports(keys)
                raise
            self.published[container_id] = (keys, bindings)
            if proxies:
                self.proxies[container_id] = proxies

    def users(self, net_id: str) -> list[str]:
        return [cid for nid, cid in self.endpoints if nid == net_id]
