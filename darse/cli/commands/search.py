"""docker search TERM: a registry's index, as a table like docker's."""

from __future__ import annotations

from darse.cli import Parser, flagtypes
from darse.cli.client import Client
from darse.cli.common import filters_query
from darse.cli.output import render


def search(client: Client, argv: list[str]) -> int:
    p = Parser(prog="darse search")
    p.add_argument("-f", "--filter", action="append", default=[])
    p.add_argument("--format")
    p.add_argument("--limit", type=flagtypes.int64, default=25)
    p.add_argument("--no-trunc", action="store_true")
    p.add_argument("term", metavar="TERM")
    args = p.parse_args(argv)
    found = client.json("GET", "/images/search", {
        "term": args.term, "limit": args.limit, "filters": filters_query(args.filter)})
    items = []
    for r in found or []:
        description = r.get("description") or ""
        if not args.no_trunc and len(description) > 45:
            description = description[:45] + "…"
        items.append({"Name": r.get("name", ""), "Description": description,
                      "StarCount": str(r.get("star_count", 0)),
                      "IsOfficial": "[OK]" if r.get("is_official") else "",
                      "IsAutomated": "[OK]" if r.get("is_automated") else ""})
    render(args.format, [("NAME", "Name"), ("DESCRIPTION", "Description"),
                         ("STARS", "StarCount"), ("OFFICIAL", "IsOfficial"),
                         ("AUTOMATED", "IsAutomated")], items)
    return 0
