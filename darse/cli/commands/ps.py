"""`darse ps` (and `container ls`), apart from the other container commands: the listing
is what scripts and people run most, so it imports only what it prints with."""

from __future__ import annotations

from darse.cli import Parser
from darse.cli.client import Client
from darse.cli.common import filters_query
from darse.cli.output import ago, render
from darse.units import human_size

TYPE_CHECKING = False  # typing costs milliseconds on every command
if TYPE_CHECKING:
    from typing import Any

PS_COLUMNS = [("CONTAINER ID", "ID"), ("IMAGE", "Image"), ("COMMAND", "Command"),
              ("CREATED", "RunningFor"), ("STATUS", "Status"), ("PORTS", "Ports"),
              ("NAMES", "Names")]


def format_ports(ports: list[dict[str, Any]]) -> str:
    """docker ps's PORTS as the docker CLI 20.10 lays them out: sorted by container
    port, address, host port, protocol; runs of ports published on the same number
    grouped (0.0.0.0:80-81->80-81/tcp, 7000-7001/tcp), the others after them."""
    ports = sorted(ports, key=lambda p: (p["PrivatePort"], p.get("IP") or "",
                                         p.get("PublicPort") or 0, p["Type"]))
    groups: dict[str, list[int]] = {}  # key -> [first, last], in order of creation
    done: list[str] = []
    mapped: list[str] = []

    def group(key: str, first: int, last: int) -> str:
        ip, _, proto = key.rpartition("/")
        span = str(first) if first == last else f"{first}-{last}"
        return f"{ip}:{span}->{span}/{proto}" if ip else f"{span}/{proto}"

    for p in ports:
        current, key = p["PrivatePort"], p["Type"]
        if p.get("IP"):
            if p.get("PublicPort") != current:
                mapped.append(f"{p['IP']}:{p.get('PublicPort') or 0}->{current}/{p['Type']}")
                continue
            key = f"{p['IP']}/{p['Type']}"
        span = groups.get(key)
        if span is None:
            groups[key] = [current, current]
        elif current == span[1] + 1:
            span[1] = current
        else:  # a gap: the run so far is printed now, a new one begins
            done.append(group(key, *span))
            groups[key] = [current, current]
    return ", ".join(done + [group(k, *s) for k, s in groups.items()] + mapped)


def _ps_item(c: dict[str, Any], no_trunc: bool) -> dict[str, Any]:
    command = c["Command"]
    if not no_trunc and len(command) > 20:
        command = command[:19] + "…"
    return {"ID": c["Id"] if no_trunc else c["Id"][:12], "Image": c["Image"],
            "Command": f'"{command}"', "CreatedAt": c["Created"],
            "RunningFor": ago(c["Created"]), "Status": c["Status"], "State": c["State"],
            "Ports": format_ports(c.get("Ports") or []),
            "Names": ",".join(n.lstrip("/") for n in c["Names"]),
            "Labels": ",".join(f"{k}={v}" for k, v in (c.get("Labels") or {}).items()),
            "Mounts": "", "Networks": ",".join(c.get("NetworkSettings", {}).get("Networks")
                                               or {}),
            "Size": (f"{human_size(c['SizeRw'])} (virtual {human_size(c['SizeRootFs'])})"
                     if "SizeRw" in c else "")}


def ps(client: Client, argv: list[str]) -> int:
    p = Parser(prog="darse ps")
    p.add_argument("-a", "--all", action="store_true")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("-n", "--last", type=int, default=-1)
    p.add_argument("-l", "--latest", action="store_true")
    p.add_argument("-s", "--size", action="store_true")
    p.add_argument("--no-trunc", action="store_true")
    p.add_argument("-f", "--filter", action="append", default=[])
    p.add_argument("--format")
    args = p.parse_args(argv)
    limit = 1 if args.latest else args.last
    query = {"all": args.all, "limit": limit if limit > 0 else None,
             "filters": filters_query(args.filter), "size": args.size}
    items = [_ps_item(c, args.no_trunc) for c in client.json("GET", "/containers/json", query)]
    columns = [*PS_COLUMNS, ("SIZE", "Size")] if args.size else PS_COLUMNS
    render(args.format, columns, items, "ID", args.quiet)
    return 0
