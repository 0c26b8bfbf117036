"""darse diff and darse commit: a container's filesystem changes, and an image of them."""

from __future__ import annotations

import sys

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


def commit(client: Client, argv: list[str]) -> int:
    p = Parser(prog="darse commit")
    p.add_argument("-a", "--author", default="")
    p.add_argument("-c", "--change", action="append", default=[])
    p.add_argument("-m", "--message", default="")
    p.add_argument("-p", "--pause", action="store_true", default=True)
    p.add_argument("container")
    p.add_argument("reference", nargs="?", metavar="[REPOSITORY[:TAG]]")
    args = p.parse_args(argv)
    repo = tag = None
    if args.reference:
        from darse.errors import InvalidArgument
        from darse.image.reference import parse

        try:
            parse(args.reference)  # refused here, as the docker CLI does
        except InvalidArgument as exc:
            print(exc, file=sys.stderr)
            return 1
        repo = args.reference
        if ":" in repo.rsplit("/", 1)[-1]:
            repo, tag = repo.rsplit(":", 1)
    query = {"container": args.container, "repo": repo, "tag": tag,
             "comment": args.message or None, "author": args.author or None,
             "pause": args.pause, "changes": args.change}
    out = client.json("POST", "/commit", query, body={})
    print(out["Id"])
    return 0
