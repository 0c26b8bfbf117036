"""darse-runtime state"""

from __future__ import annotations

import argparse
import json

from darse.runtime import state


def add(sub: argparse._SubParsersAction) -> None:
    sub.add_parser("state", help="output the state of a container").add_argument("id")


def run(args: argparse.Namespace) -> int:
    st = state.load(args.root, args.id)
    print(json.dumps(state.runc_state(args.root, st), indent=2))
    return 0
