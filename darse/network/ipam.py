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


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_subnet(text: str) -> Network:
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise InvalidArgument(f"invalid CIDR address: {text}") from None
    if net.version == 6:
        return net  # as dockerd 20.10: kept as written (fd00::1/64 too)
    if str(net) != text and "/" in text and ipaddress.ip_interface(text).ip != net.network_address:
        raise InvalidArgument(f"invalid subnet {text}: it should be {net}")
    return net


def first_free(net: Network, used: set[str], ip_range: str | None = None) -> str:
    """The lowest free address, as dockerd's IPAM hands them out (IPv6 ones too: fd00::2,
    fd00::3..., never one derived from the MAC on a user-defined network)."""
    pool = ipaddress.ip_network(ip_range, strict=False) if ip_range else net
    taken = {ipaddress.ip_address(u) for u in used if u}
    for host in pool.hosts():  # (a generator: a /64 is never listed)
        if host not in taken and host in net:
            return str(host)
    raise Conflict(f"no available IPv{net.version} addresses on this network's address "
                   f"pools: {net}")


def from_mac(net: ipaddress.IPv6Network, mac: str) -> str:
    """The default bridge's IPv6 address of a container, as dockerd makes it for
    fixed-cidr-v6: the prefix, the MAC in the last six bytes (fd00::242:ac11:2)."""
    if net.prefixlen > 80:
        raise InvalidArgument(f"Cannot self generate an IPv6 address on network {net}: At "
                              f"least 48 host bits are needed.")
    packed = net.network_address.packed[:10] + bytes(int(b, 16) for b in mac.split(":"))
    return str(ipaddress.IPv6Address(packed))


def gateway(cfg: dict) -> str:
    """A config's gateway: the one given, else the subnet's first address (dockerd's
    record of a user's subnet shows none; the bridge holds it all the same)."""
    if cfg.get("Gateway"):
        return str(ipaddress.ip_address(cfg["Gateway"]))
    return str(next(ipaddress.ip_network(cfg["Subnet"], strict=False).hosts()))


def split(configs: list[dict]) -> tuple[dict | None, dict | None]:
    """A network's IPAM configs: its IPv4 one and its IPv6 one (the bridge driver takes
    one of each)."""
    found: dict[int, dict] = {}
    for cfg in configs or []:
        version = 4
        if cfg.get("Subnet"):
            version = parse_subnet(cfg["Subnet"]).version
        if version in found:
            raise InvalidArgument("bridge driver doesn't support multiple subnets")
        found[version] = cfg
    return found.get(4), found.get(6)
