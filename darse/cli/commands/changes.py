"""darse diff and darse commit: a container's filesystem changes, and an image of them."""

from __future__ import annotations

from darse.cli import Parser
from darse.cli.client import Client

KINDS = {0: "C", 1: "A", 2: "D"}


def diff(client: Client, argv: list[str]) -> int:
    p = Parser(prog="darse diff")
    p.add_argument("container")
    args = p.parse_args(argv)
    for change in client.json("GET", f"/containers/{args.container}/changes") or []:
        print(f"{KINDS.get(change['Kind'], '?')} {change['Path']}")
    return 0
