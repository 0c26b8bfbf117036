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
    """docker ps's PORTS: 0.0.0.0:8080->80/tcp, 443/tcp."""
    out = []
    for p in ports:
        if p.get("PublicPort"):
            out.append(f"{p.get('IP', '0.0.0.0')}:{p['PublicPort']}->{p['PrivatePort']}/"
                       f"{p['Type']}")
        else:
            out.append(f"{p['PrivatePort']}/{p['Type']}")
    return ", ".join(out)


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
