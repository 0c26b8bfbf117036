"""Volume commands: create, ls, inspect, rm, prune."""

from __future__ import annotations

import json
import sys

from darse.cli import Parser
from darse.cli.client import Client
from darse.cli.common import (
    confirm,
    done,
    each,
    filters,
    filters_query,
    inspect_each,
    print_pruned,
)
from darse.cli.output import render


def _pairs(items: list[str]) -> dict[str, str]:
    return dict(i.split("=", 1) if "=" in i else (i, "") for i in items)


def create(client: Client, argv: list[str]) -> int:
    p = Parser(prog="darse volume create")
    p.add_argument("-d", "--driver", default="local")
    p.add_argument("-o", "--opt", action="append", default=[])
    p.add_argument("--label", action="append", default=[])
    p.add_argument("--name")
    p.add_argument("volume", nargs="?")
    args = p.parse_args(argv)
    if args.name and args.volume and args.name != args.volume:
        print("conflicting options: either specify --name or provide positional arg, not "
              "both", file=sys.stderr)
        return 1
    vol = client.json("POST", "/volumes/create", body={
        "Name": args.volume or args.name or "", "Driver": args.driver,
        "DriverOpts": _pairs(args.opt), "Labels": _pairs(args.label)})
    print(vol["Name"])
    return 0


def ls(client: Client, argv: list[str]) -> int:
    p = Parser(prog="darse volume ls")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("-f", "--filter", action="append", default=[])
    p.add_argument("--format")
    args = p.parse_args(argv)
    vols = client.json("GET", "/volumes", {"filters": filters_query(args.filter)}
                       )["Volumes"] or []
    items = [{"Driver": v["Driver"], "Name": v["Name"], "Mountpoint": v["Mountpoint"],
              "Scope": v["Scope"], "Labels": ",".join(f"{k}={val}" for k, val in
                                                      (v.get("Labels") or {}).items())}
             for v in vols]
    render(args.format, [("DRIVER", "Driver"), ("VOLUME NAME", "Name")], items, "Name",
           args.quiet)
    return 0


def inspect(client: Client, argv: list[str]) -> int:
    p = Parser(prog="darse volume inspect")
    p.add_argument("-f", "--format")
    p.add_argument("volumes", nargs="+")
    args = p.parse_args(argv)
    return inspect_each(client, args.volumes, "/volumes/{}", args.format, "volume")


def rm(client: Client, argv: list[str]) -> int:
    p = Parser(prog="darse volume rm")
    p.add_argument("-f", "--force", action="store_true")
    p.add_argument("volumes", nargs="+")
    args = p.parse_args(argv)
    return each(args.volumes, lambda name: done(client.request(
        "DELETE", f"/volumes/{name}", {"force": args.force})))


def prune(client: Client, argv: list[str]) -> int:
    p = Parser(prog="darse volume prune")
    p.add_argument("-a", "--all", action="store_true")
    p.add_argument("-f", "--force", action="store_true")
    p.add_argument("--filter", action="append", default=[])
    args = p.parse_args(argv)
    if not args.force and not confirm("This will remove anonymous local volumes not used "
                                      "by at least one container."):
        return 0
    wanted = filters(args.filter)
    if args.all:
        wanted["all"] = ["true"]
    out = client.json("POST", "/volumes/prune", {"filters": json.dumps(wanted) if wanted
                                                 else None})
    print_pruned("Volumes", out.get("VolumesDeleted") or [], out.get("SpaceReclaimed", 0))
    return 0
