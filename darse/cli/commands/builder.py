"""docker builder: prune (RUN --mount=type=cache folders) and build."""

from __future__ import annotations

import sys

from darse.cli import Parser
from darse.cli.client import Client
from darse.cli.common import filters_query, print_pruned


def prune(client: Client, argv: list[str]) -> int:
    from darse.cli import flagtypes

    p = Parser(prog="darse builder prune")
    p.add_argument("-a", "--all", action="store_true")
    p.add_argument("-f", "--force", action="store_true")
    p.add_argument("--filter", action="append", default=[])
    p.add_argument("--keep-storage", type=flagtypes.ram_bytes)
    args = p.parse_args(argv)
    what = "all build cache" if args.all else "all dangling build cache"
    if not args.force and input(f"WARNING! This will remove {what}. Are you sure you want "
                                "to continue? [y/N] ").lower() not in ("y", "yes"):
        return 0
    out = client.json("POST", "/build/prune", {
        "all": args.all or None, "filters": filters_query(args.filter),
        "keep-storage": args.keep_storage})
    print_pruned("build cache objects", out.get("CachesDeleted") or [],
                 out.get("SpaceReclaimed") or 0)
    sys.stdout.flush()
    return 0
