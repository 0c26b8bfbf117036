"""darse-runtime delete"""

from __future__ import annotations

import argparse

from darse.errors import NotFound
from darse.runtime.delete import delete


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("delete", help="delete a container and what it holds")
    p.add_argument("id")
    p.add_argument("-f", "--force", action="store_true")


def run(args: argparse.Namespace) -> int:
    try:
        delete(args.root, args.id, force=args.force)
    except NotFound:
        if not args.force:
            raise
    return 0
