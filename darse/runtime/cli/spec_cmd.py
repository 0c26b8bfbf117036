"""darse-runtime spec: write a default config.json into a bundle."""

from __future__ import annotations

import argparse
import json
import os

from darse.errors import AlreadyExists
from darse.runtime import spec


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("spec", help="create a new specification file")
    p.add_argument("-b", "--bundle", default=".")
    p.add_argument("--rootless", action="store_true")


def run(args: argparse.Namespace) -> int:
    path = os.path.join(args.bundle, "config.json")
    if os.path.exists(path):
        raise AlreadyExists(f"File {path} exists. Remove it first")
    with open(path, "w") as f:
        json.dump(spec.default(rootless=args.rootless), f, indent=2)
        f.write("\n")
    return 0
