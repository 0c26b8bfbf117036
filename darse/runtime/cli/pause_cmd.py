"""darse-runtime pause"""

from __future__ import annotations

import argparse

from darse.runtime.pause import pause


def add(sub: argparse._SubParsersAction) -> None:
    sub.add_parser("pause", help="freeze every process of a container").add_argument("id")


def run(args: argparse.Namespace) -> int:
    pause(args.root, args.id)
    return 0
