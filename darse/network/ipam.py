"""IP address management: subnets for networks (never one the host already routes, nor
another network's), addresses for containers."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from darse.errors import Conflict, InvalidArgument

# Docker's default pools: 172.17-31.0.0/16, then 192.168.0.0/16 in /20s.
DEFAULT_POOLS = [{"base": "172.17.0.0/16", "size": 16}, {"base": "172.18.0.0/15", "size": 16},
                 {"base": "172.20.0.0/14", "size": 16}, {"base": "172.24.0.0/13", "size": 16},
                 {"base": "192.168.0.0/16", "size": 20}]


def host_routes() -> list[ipaddress.IPv4Network]:
    """Subnets the host routes (a machine that also runs dockerd keeps working)."""
    from pyroute2 import IPRoute

    out = []
    with IPRoute() as ipr:
        for r in ipr.get_routes(family=2):
            dst = r.get_attr("RTA_DST")
            if dst and r["dst_len"] > 0:
                out.append(ipaddress.ip_network(f"{dst}/{r['dst_len']}", strict=False))
    return out


def overlaps(net: ipaddress.IPv4Network, others: Iterable[ipaddress.IPv4Network]) -> bool:
    return any(net.overlaps(o) for o in others)


def choose_subnet(pools: list[dict], taken: list[ipaddress.IPv4Network]) -> ipaddress.IPv4Network:
    avoid = taken + host_routes()
    for pool in pools or DEFAULT_POOLS:
        base = ipaddress.ip_network(pool["base"], strict=False)
        for candidate in base.subnets(new_prefix=int(pool["size"])):
            if not overlaps(candidate, avoid):
                return candidate
    raise Conflict("could not find an available, non-overlapping IPv4 address pool among "
                   "the defaults to assign to the network")


def parse_subnet(text: str) -> ipaddress.IPv4Network:
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise InvalidArgument(f"invalid CIDR address: {text}") from None
    if net.version != 4:
        raise InvalidArgument("only IPv4 subnets are supported")
    if str(net) != text and "/" in text and ipaddress.ip_interface(text).ip != net.network_address:
        raise InvalidArgument(f"invalid subnet {text}: it should be {net}")
    return net


def first_free(net: ipaddress.IPv4Network, used: set[str], ip_range: str | None = None) -> str:
    pool = ipaddress.ip_network(ip_range, strict=False) if ip_range else net
    for host in pool.hosts():
        if str(host) not in used and host in net:
            return str(host)
    raise Conflict(f"no available IPv4 addresses on this network's address pools: {net}")
