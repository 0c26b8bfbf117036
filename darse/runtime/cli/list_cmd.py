"""darse-runtime list"""

from __future__ import annotations

import argparse
import json

from darse.runtime import state


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("list", help="list the containers")
    p.add_argument("-f", "--format", default="table", choices=("table", "json"))
    p.add_argument("-q", "--quiet", action="store_true")


def run(args: argparse.Namespace) -> int:
    rows = [state.runc_state(args.root, state.load(args.root, cid))
            for cid in state.list_ids(args.root)]
    if args.quiet:
        for row in rows:
            print(row["id"])
    elif args.format == "json":
        print(json.dumps(rows))
    else:
        print(f"{'ID':<20}{'PID':<10}{'STATUS':<10}{'BUNDLE':<40}{'CREATED':<32}OWNER")
        for r in rows:
            print(f"{r['id']:<20}{r['pid']:<10}{r['status']:<10}{r['bundle']:<40}"
                  f"{r['created']:<32}{r['owner']}")
    return 0
