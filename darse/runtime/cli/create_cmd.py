"""darse-runtime create"""

from __future__ import annotations

import argparse

from darse.runtime.create import create


def add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("id")
    p.add_argument("-b", "--bundle", default=".")
    p.add_argument("--console-socket")
    p.add_argument("--pid-file")
    p.add_argument("--no-pivot", action="store_true")
    p.add_argument("--no-new-keyring", action="store_true")
    p.add_argument("--preserve-fds", type=int, default=0)


def add(sub: argparse._SubParsersAction) -> None:
    add_common(sub.add_parser("create", help="create a container"))


def run(args: argparse.Namespace) -> int:
    create(args.root, args.id, args.bundle, console_socket=args.console_socket,
           pid_file=args.pid_file, no_pivot=args.no_pivot, preserve_fds=args.preserve_fds)
    return 0
