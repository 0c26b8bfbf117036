"""darse-runtime kill"""

from __future__ import annotations

import argparse

from darse.runtime.kill import kill


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("kill", help="send a signal to the container's init")
    p.add_argument("id")
    p.add_argument("signal", nargs="?", default="SIGTERM")
    p.add_argument("-a", "--all", action="store_true")


def run(args: argparse.Namespace) -> int:
    kill(args.root, args.id, args.signal, all_processes=args.all)
    return 0
