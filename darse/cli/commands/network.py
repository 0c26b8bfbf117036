"""Network commands: ls, inspect, create, rm, connect, disconnect, prune."""

from __future__ import annotations

import sys

from darse.cli import Parser
from darse.cli.client import APIError, Client
from darse.cli.common import confirm, filters_query, inspect_each, print_pruned
from darse.cli.output import render


def _pairs(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        k, _, v = item.partition("=")
        out[k] = v
    return out


def ls(client: Client, argv: list[str]) -> int:
    p = Parser(prog="darse network ls")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("-f", "--filter", action="append", default=[])
    p.add_argument("--format")
    p.add_argument("--no-trunc", action="store_true")
    args = p.parse_args(argv)
    nets = client.json("GET", "/networks", {"filters": filters_query(args.filter)})
    items = [{"ID": n["Id"] if args.no_trunc else n["Id"][:12], "Name": n["Name"],
              "Driver": n["Driver"], "Scope": n["Scope"], "Internal": n["Internal"]}
             for n in sorted(nets, key=lambda n: n["Name"])]
    render(args.format, [("NETWORK ID", "ID"), ("NAME", "Name"), ("DRIVER", "Driver"),
                         ("SCOPE", "Scope")], items, "ID", args.quiet)
    return 0


def inspect(client: Client, argv: list[str]) -> int:
    p = Parser(prog="darse network inspect")
    p.add_argument("-f", "--format")
    p.add_argument("networks", nargs="+")
    args = p.parse_args(argv)
    return inspect_each(client, args.networks, "/networks/{}", args.format)


def create(client: Client, argv: list[str]) -> int:
    p = Parser(prog="darse network create")
    p.add_argument("-d", "--driver", default="bridge")
    p.add_argument("--subnet")
    p.add_argument("--gateway")
    p.add_argument("--ip-range")
    p.add_argument("--internal", action="store_true")
    p.add_argument("--label", action="append", default=[])
    p.add_argument("-o", "--opt", action="append", default=[])
    p.add_argument("name")
    args = p.parse_args(argv)
    config = {k: v for k, v in (("Subnet", args.subnet), ("Gateway", args.gateway),
                                ("IPRange", args.ip_range)) if v}
    out = client.json("POST", "/networks/create", body={
        "Name": args.name, "Driver": args.driver, "Internal": args.internal,
        "IPAM": {"Driver": "default", "Config": [config] if config else []},
        "Options": _pairs(args.opt), "Labels": _pairs(args.label)})
    print(out["Id"])
    return 0


def rm(client: Client, argv: list[str]) -> int:
    p = Parser(prog="darse network rm")
    p.add_argument("-f", "--force", action="store_true")
    p.add_argument("networks", nargs="+")
    args = p.parse_args(argv)
    code = 0
    for name in args.networks:
        try:
            client.request("DELETE", f"/networks/{name}").read()
            print(name)
        except APIError as exc:
            if not (args.force and exc.status == 404):
                print(f"Error response from daemon: {exc.message}", file=sys.stderr)
                code = 1
    return code


def connect(client: Client, argv: list[str]) -> int:
    p = Parser(prog="darse network connect")
    p.add_argument("--ip")
    p.add_argument("--alias", action="append", default=[])
    p.add_argument("network")
    p.add_argument("container")
    args = p.parse_args(argv)
    ep = {"Aliases": args.alias}
    if args.ip:
        ep["IPAMConfig"] = {"IPv4Address": args.ip}
    client.request("POST", f"/networks/{args.network}/connect",
                   body={"Container": args.container, "EndpointConfig": ep}).read()
    return 0


def disconnect(client: Client, argv: list[str]) -> int:
    p = Parser(prog="darse network disconnect")
    p.add_argument("-f", "--force", action="store_true")
    p.add_argument("network")
    p.add_argument("container")
    args = p.parse_args(argv)
    client.request("POST", f"/networks/{args.network}/disconnect",
                   body={"Container": args.container, "Force": args.force}).read()
    return 0


def prune(client: Client, argv: list[str]) -> int:
    p = Parser(prog="darse network prune")
    p.add_argument("-f", "--force", action="store_true")
    p.add_argument("--filter", action="append", default=[])
    args = p.parse_args(argv)
    if not args.force and not confirm("This will remove all custom networks not used by at "
                                      "least one container."):
        return 0
    out = client.json("POST", "/networks/prune", {"filters": filters_query(args.filter)})
    print_pruned("Networks", out.get("NetworksDeleted") or [], None)
    return 0
