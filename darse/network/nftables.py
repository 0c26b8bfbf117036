"""darse's own nftables tables (`ip darse`; `ip6 darse` for IPv6 networks), through
libnftables — never another program's rules. Masquerade for each bridge network's
subnet, isolation between them, no way out for --internal ones, and DNAT for published
ports (the traffic stays in the kernel; IPv6 bindings have a socket of darsed's proxy
too, which carries what the kernel cannot: [::1], and IPv6 into an IPv4-only container;
see darse.network.proxy)."""

from __future__ import annotations

import ctypes
import ipaddress
import threading

from darse.errors import Conflict, SystemFailure, Unavailable

TABLE = "darse"
MARK = "made by darse"  # the table's comment: darse replaces and deletes only its own
_lib: ctypes.CDLL | None = None
_lock = threading.Lock()


def _nft() -> ctypes.CDLL:
    global _lib
    if _lib is None:
        try:
            lib = ctypes.CDLL("libnftables.so.1")
        except OSError as exc:
            raise Unavailable("nftables: libnftables.so.1 is not installed") from exc
        lib.nft_ctx_new.restype = ctypes.c_void_p
        lib.nft_ctx_new.argtypes = [ctypes.c_uint32]
        lib.nft_ctx_buffer_output.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_buffer_error.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_get_output_buffer.restype = ctypes.c_char_p
        lib.nft_ctx_get_output_buffer.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_get_error_buffer.restype = ctypes.c_char_p
        lib.nft_ctx_get_error_buffer.argtypes = [ctypes.c_void_p]
        lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        lib.nft_ctx_free.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_output_set_flags.argtypes = [ctypes.c_void_p, ctypes.c_uint]
        _lib = lib
    return _lib


_OUTPUT_HANDLE = 1 << 3  # NFT_CTX_OUTPUT_HANDLE: listings show rule handles (nft -a)


def run(commands: str, handles: bool = False) -> str:
    """Run nft commands (one transaction); return what nft printed."""
    lib = _nft()
    with _lock:
        ctx = lib.nft_ctx_new(0)
        try:
            if handles:
                lib.nft_ctx_output_set_flags(ctx, _OUTPUT_HANDLE)
            lib.nft_ctx_buffer_output(ctx)
            lib.nft_ctx_buffer_error(ctx)
            rc = lib.nft_run_cmd_from_buffer(ctx, commands.encode())
            out = (lib.nft_ctx_get_output_buffer(ctx) or b"").decode()
            err = (lib.nft_ctx_get_error_buffer(ctx) or b"").decode()
        finally:
            lib.nft_ctx_free(ctx)
    if rc != 0:
        raise SystemFailure(f"nftables: {err.strip() or 'command failed'}")
    return out


FAMILIES = ("ip", "ip6")  # the same table in each: IPv4 traffic, IPv6 networks' traffic


def owned(family: str = "ip") -> bool | None:
    """Whether the table is darse's; None when there is no such table. A table made
    before darse marked its own is known by its set and chains."""
    try:
        listing = run(f"list table {family} {TABLE}")
    except SystemFailure:
        return None
    legacy = all(f"{what} {{" in listing for what in
                 ("set bridges", "chain publish", "chain cross", "chain internal"))
    return f'comment "{MARK}"' in listing or legacy


def check() -> None:
    """Refuse to run over a table of someone else's that has darse's name."""
    for family in FAMILIES:
        if owned(family) is False:
            raise Conflict(f"nftables table {family} {TABLE} exists and was not made by "
                           f"darse: darse will not replace it")


def _table(family: str) -> str:
    """One family's table. IPv6 (ip6) holds only the networks with IPv6 enabled."""
    addr, l3, loopback = ("ipv4_addr", "ip", "127.0.0.0/8") if family == "ip" else \
        ("ipv6_addr", "ip6", "::1")
    # [::1] is darse.network.proxy's: a DNAT of it would be dropped by the kernel
    own_loopback = "" if family == "ip" else "ip6 daddr != ::1 "
    return f"""
table {family} {TABLE}
delete table {family} {TABLE}
table {family} {TABLE} {{
    comment "{MARK}";
    set bridges {{ type ifname; }}
    set same {{ type ifname . ifname; }}
    set internal {{ type ifname; }}
    set nat_bridges {{ type ifname; }}
    set nat_subnets {{ type {addr}; flags interval; }}
    set own {{ type {addr} . ifname; flags interval; }}
    chain prerouting {{ type nat hook prerouting priority -100; policy accept;
        fib daddr type local jump publish; }}
    chain output {{ type nat hook output priority -100; policy accept;
        fib daddr type local {own_loopback}jump publish; }}
    map ports {{ type inet_proto . inet_service : {addr} . inet_service; }}
    map host_ports {{ type {addr} . inet_proto . inet_service : {addr} . inet_service; }}
    chain publish {{
        dnat to {l3} daddr . meta l4proto . th dport map @host_ports;
        dnat to meta l4proto . th dport map @ports;
    }}
    chain postrouting {{ type nat hook postrouting priority 100; policy accept;
        {l3} saddr @nat_subnets {l3} saddr . oifname != @own masquerade;
        oifname @nat_bridges {l3} saddr {loopback} masquerade;
        {l3} saddr . oifname @own ct status dnat masquerade;
    }}
    chain internal {{
        iifname @internal iifname . oifname != @same drop;
        oifname @internal iifname . oifname != @same drop;
    }}
    chain cross {{ iifname . oifname @same accept; }}
    chain forward {{ type filter hook forward priority 0; policy accept;
        jump internal;
        ct state related,established accept;
        ct status dnat accept;
        iifname @bridges oifname @bridges jump cross;
        iifname @bridges oifname @bridges drop;
    }}
}}
"""


def setup() -> None:
    """The tables and their chains, made anew (darse owns all of them).

    forward: internal networks drop all routed traffic; replies and published (DNAT'd)
    traffic pass; between two darse bridges only same-bridge traffic passes, the rest
    drops — networks are isolated. Each network is elements of sets, never rules of its
    own: a packet costs the same lookups however many networks there are.

    - same: "bridge" . "bridge", every network (traffic that stays on its bridge);
    - internal: the --internal networks' bridges;
    - nat_bridges, nat_subnets, own (subnet . its bridge): the others'."""
    check()
    run("".join(_table(family) for family in FAMILIES))


def teardown() -> None:
    for family in FAMILIES:
        try:
            if owned(family):
                run(f"delete table {family} {TABLE}")
        except (SystemFailure, Unavailable):
            pass


def _family(address: str) -> str:
    return "ip6" if ipaddress.ip_network(address, strict=False).version == 6 else "ip"


def _network_elements(bridge: str, subnet: str, internal: bool) -> list[tuple[str, str]]:
    b = f'"{bridge}"'
    subnet = str(ipaddress.ip_network(subnet, strict=False))
    out = [("bridges", b), ("same", f"{b} . {b}")]
    if internal:
        # (Same-bridge traffic reaches the forward hook too when br_netfilter is loaded.)
        return [*out, ("internal", b)]
    # Masquerade what leaves the network for elsewhere; and published ports reached
    # from 127.0.0.1, or from a container of the same network through the host's
    # address: the source must change for the reply to come back through NAT.
    return [*out, ("nat_bridges", b), ("nat_subnets", subnet), ("own", f"{subnet} . {b}")]


def add_network(bridge: str, subnet: str, internal: bool) -> None:
    """The network's elements in the table of its subnet's family (an IPv6 network is
    added twice: its IPv4 subnet, then its IPv6 one)."""
    family = _family(subnet)
    run("\n".join(f"add element {family} {TABLE} {s} {{ {e} }}"
                  for s, e in _network_elements(bridge, subnet, internal)))


def remove_network(bridge: str, subnet: str, internal: bool) -> None:
    """The network's elements, whether or not they are there (added first: a delete of
    an element that is not there would fail the whole transaction)."""
    elements = _network_elements(bridge, subnet, internal)
    family = _family(subnet)
    try:
        run("\n".join([f"add element {family} {TABLE} {s} {{ {e} }}" for s, e in elements] +
                      [f"delete element {family} {TABLE} {s} {{ {e} }}"
                       for s, e in elements]))
    except SystemFailure:
        pass  # no table (never made, or gone): nothing of the network's there


Port = tuple[str, str, str]  # (family, map, key): one published port's element


def port_keys(ports: list[tuple[str, int, str, int]], family: str = "ip") -> list[Port]:
    """The elements' keys of (host ip or '', host port, proto, container port)s: bound
    to all the host's addresses, `ports` (protocol . port); to one, `host_ports`."""
    return [(family, "host_ports", f"{host_ip} . {proto} . {host_port}")
            if host_ip and host_ip not in ("0.0.0.0", "::")
            else (family, "ports", f"{proto} . {host_port}")
            for host_ip, host_port, proto, _ in ports]


def add_ports(ip: str, ports: list[tuple[str, int, str, int]]) -> list[Port]:
    """DNAT of each (host ip or '', host port, proto, container port) to ip:port: one
    element each in the publish chain's maps, so that a packet costs one hash lookup
    however many ports are published, and a container's start or stop adds or deletes
    its own elements without reading the others. ip's family says the table: IPv6 ones
    DNAT to a container's IPv6 address. Returns what remove_ports takes."""
    family = _family(ip)
    keys = port_keys(ports, family)
    if keys:
        run("\n".join(f"add element {f} {TABLE} {m} {{ {k} : {ip} . {p[3]} }}"
                      for (f, m, k), p in zip(keys, ports, strict=True)))
    return keys


def remove_ports(keys: list[Port]) -> None:
    if keys:
        run("\n".join(f"delete element {f} {TABLE} {m} {{ {k} }}" for f, m, k in keys))
