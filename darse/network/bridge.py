"""The Linux bridge of a bridge network, and darse's record of what it made of it.

A bridge name can name an interface darse did not make (a network's
com.docker.network.bridge.name, daemon.json's "bridge"): one that is not a bridge is
refused, as dockerd refuses it; a bridge made by someone else is used as it is. What darse
made is kept in the network's record under HOST: the bridge itself (and its ifindex, so
that a same-named interface made later by someone else is not taken for it), or the one
gateway address darse gave a bare bridge of someone else's. Tearing down removes exactly
that: never an address, never an interface, that darse did not put there."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from darse.errors import InvalidArgument

HOST = "_host"  # the network record's private key (network inspect does not show it)

Address = ipaddress.IPv4Interface


def fresh() -> dict[str, Any]:
    """The record of a network whose bridge darse has not touched yet."""
    return {"created": False, "index": None, "address": ""}


def record(doc: dict[str, Any], name: str) -> dict[str, Any]:
    """What darse made for this network. A record older than this key counts as darse's
    only a bridge named the way darse names its own (darse0, darse-<id>)."""
    if HOST not in doc:
        doc[HOST] = fresh()
        doc[HOST]["created"] = name in ("darse0", f"darse-{doc['Id'][:9]}")
    return doc[HOST]


def inspect(ipr: IPRoute, name: str) -> tuple[int, list[Address]] | None:
    """The bridge's index and IPv4 addresses; None if no interface has that name."""
    found = ipr.link_lookup(ifname=name)
    if not found:
        return None
    link = ipr.get_links(found[0])[0]
    if link.get_nested("IFLA_LINKINFO", "IFLA_INFO_KIND") != "bridge":
        raise InvalidArgument(f"existing interface {name} is not a bridge")
    return found[0], [Address(f"{a.get_attr('IFA_LOCAL') or a.get_attr('IFA_ADDRESS')}/"
                              f"{a['prefixlen']}")
                      for a in ipr.get_addr(index=found[0], family=socket.AF_INET)]


def theirs(ipr: IPRoute, name: str, host: dict[str, Any]) -> list[Address]:
    """The addresses someone else gave an existing bridge that darse did not make (none if
    darse made it, or if there is no such interface)."""
    found = inspect(ipr, name)
    if found is None or _mine(host, found[0]):
        return []
    return [a for a in found[1] if str(a) != host["address"]]


def _mine(host: dict[str, Any], index: int) -> bool:
    return bool(host["created"]) and host["index"] in (None, index)


def up(ipr: IPRoute, name: str, gateway: Address, host: dict[str, Any]) -> None:
    """The bridge exists, holds the gateway and is up; host (the record) is updated in
    place as soon as darse makes something, so that a failure later undoes just that."""
    found = inspect(ipr, name)
    if found is None:
        ipr.link("add", ifname=name, kind="bridge")
        index = ipr.link_lookup(ifname=name)[0]
        host.update(created=True, index=index, address="")
        addresses: list[Address] = []
    else:
        index, addresses = found
        if _mine(host, index):
            host.update(index=index, address="")
        else:
            host.update(created=False, index=None)
    if host["created"]:
        for stale in addresses:
            if stale != gateway:
                ipr.addr("del", index=index, address=str(stale.ip),
                         prefixlen=stale.network.prefixlen)
    else:
        given = host["address"]
        if given and given != str(gateway) and Address(given) in addresses:
            _del_address(ipr, index, Address(given))  # darse's own, from a former gateway
            addresses.remove(Address(given))
        if gateway in addresses:
            host["address"] = given if given == str(gateway) else ""  # theirs stays theirs
        elif addresses:
            raise InvalidArgument(
                f"bridge {name} was not created by darse and holds "
                f"{', '.join(map(str, addresses))}, not the gateway {gateway}: darse does not "
                f"change the addresses of an interface it did not create")
        else:
            host["address"] = str(gateway)  # a bare bridge: the one address darse adds
    if gateway not in addresses:
        ipr.addr("add", index=index, address=str(gateway.ip),
                 prefixlen=gateway.network.prefixlen)
    ipr.link("set", index=index, state="up")


IFA_F_NODAD = 0x02


def up6(ipr: IPRoute, name: str, gateway: ipaddress.IPv6Interface,
        host: dict[str, Any]) -> None:
    """The IPv6 gateway on the bridge (after up): without duplicate address detection, as
    dockerd gives it to containers, so that it answers at once. On a bridge of someone
    else's, the address darse added is recorded (address6) and is the only one removed."""
    index = ipr.link_lookup(ifname=name)[0]
    _sysctl6(name, "disable_ipv6", "0")
    held = {f"{a.get_attr('IFA_ADDRESS')}/{a['prefixlen']}"
            for a in ipr.get_addr(index=index, family=socket.AF_INET6)}
    given = host.get("address6") or ""
    if given and given != str(gateway) and given in held:
        _del_address(ipr, index, ipaddress.ip_interface(given))  # a former gateway's
    if str(gateway) in held:
        if given != str(gateway):
            host["address6"] = ""  # theirs, or darse's bridge: nothing to remember
        return
    ipr.addr("add", index=index, address=str(gateway.ip), prefixlen=gateway.network.prefixlen,
             family=socket.AF_INET6, flags=IFA_F_NODAD)
    host["address6"] = "" if _mine(host, index) else str(gateway)


def down6(ipr: IPRoute, name: str, host: dict[str, Any]) -> None:
    """A network without IPv6 now (daemon.json's "ipv6" turned off for the default
    bridge): the global IPv6 addresses darse gave the bridge go."""
    found = ipr.link_lookup(ifname=name)
    if not found:
        return
    if _mine(host, found[0]):
        for a in ipr.get_addr(index=found[0], family=socket.AF_INET6):
            if a["scope"] == 0:  # global: never the kernel's fe80::
                _del_address(ipr, found[0], ipaddress.ip_interface(
                    f"{a.get_attr('IFA_ADDRESS')}/{a['prefixlen']}"))
    elif host.get("address6"):
        _del_address(ipr, found[0], ipaddress.ip_interface(host["address6"]))
    host["address6"] = ""


def _sysctl6(name: str, key: str, value: str) -> None:
    with open(f"/proc/sys/net/ipv6/conf/{name}/{key}", "w") as f:
        f.write(value)


def down(ipr: IPRoute, name: str, host: dict[str, Any]) -> None:
    """Remove what darse made: its bridge, or the addresses it gave someone else's."""
    found = ipr.link_lookup(ifname=name)
    if not found:
        return
    link = ipr.get_links(found[0])[0]
    if _mine(host, found[0]) and link.get_nested("IFLA_LINKINFO", "IFLA_INFO_KIND") == "bridge":
        ipr.link("del", index=found[0])
        return
    if not host["created"] and host["address"]:
        _del_address(ipr, found[0], Address(host["address"]))
        host["address"] = ""
    if not host["created"] and host.get("address6"):
        _del_address(ipr, found[0], ipaddress.ip_interface(host["address6"]))
        host["address6"] = ""


def _del_address(ipr: IPRoute, index: int,
                 address: Address | ipaddress.IPv6Interface) -> None:
    try:
        ipr.addr("del", index=index, address=str(address.ip),
                 prefixlen=address.network.prefixlen,
                 family=socket.AF_INET6 if address.version == 6 else socket.AF_INET)
    except NetlinkError:
        pass  # already gone
