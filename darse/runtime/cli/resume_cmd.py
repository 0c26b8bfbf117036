"""darse-runtime resume"""

from __future__ import annotations

import argparse

from darse.runtime.pause import resume


def add(sub: argparse._SubParsersAction) -> None:
    sub.add_parser("resume", help="thaw a paused container").add_argument("id")


def run(args: argparse.Namespace) -> int:
    resume(args.root, args.id)
    return 0
