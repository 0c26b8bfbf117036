"""darse-runtime start"""

from __future__ import annotations

import argparse

from darse.runtime.start import start


def add(sub: argparse._SubParsersAction) -> None:
    sub.add_parser("start", help="start a created container").add_argument("id")


def run(args: argparse.Namespace) -> int:
    start(args.root, args.id)
    return 0
