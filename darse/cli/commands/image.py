"""Image commands: images, pull, push, tag, rmi, history, save, load, import, prune,
inspect."""

from __future__ import annotations

import datetime
import json
import sys

from darse.cli import Parser
from darse.cli.client import APIError, Client
from darse.cli.common import confirm, print_pruned
from darse.cli.common import filters as common_filters
from darse.cli.output import ago, render, short
from darse.cli.stream import print_progress
from darse.units import human_size

TYPE_CHECKING = False  # typing costs milliseconds on every command
if TYPE_CHECKING:
    from typing import Any

IMAGE_COLUMNS = [("REPOSITORY", "Repository"), ("TAG", "Tag"), ("IMAGE ID", "ID"),
                 ("CREATED", "CreatedSince"), ("SIZE", "Size")]


def _auth_header(client: Client, image: str) -> dict[str, str]:
    from darse.cli.commands.system import auth_header

    return auth_header(image)


def pull_stream(client: Client, image: str, platform: str | None, quiet: bool,
                out: Any = None, all_tags: bool = False, implicit: bool = False) -> bool:
    """Pull with docker's messages; an error is raised as an APIError."""
    out = out or sys.stdout
    name, tag = image, None
    last = image.rsplit("/", 1)[-1]
    if all_tags:
        tag = ""
    elif "@" not in image and ":" not in last:
        if not quiet and not implicit:  # run and create do not say it
            print("Using default tag: latest", file=out)
        tag = "latest"
    elif "@" not in image:
        name, tag = image.rsplit(":", 1)
    query = {"fromImage": name, "tag": tag, "platform": platform}
    events = client.lines("POST", "/images/create", query,
                          headers=_auth_header(client, image))
    print_progress(events, quiet, ("Downloading", "Extracting", "Pushing"), out)
    if (not quiet or out is sys.stdout) and not all_tags:
        from darse.image.reference import parse

        print(str(parse(image)), file=out)
    return True


def pull(client: Client, argv: list[str]) -> int:
    p = Parser(prog="darse pull")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("-a", "--all-tags", action="store_true")
    p.add_argument("--platform")
    # docker's default (true) skips image signing, which darse does not do either
    p.add_argument("--disable-content-trust", action="store_true", default=True)
    p.add_argument("image", metavar="NAME[:TAG|@DIGEST]")
    args = p.parse_args(argv)
    if args.all_tags and (":" in args.image.rsplit("/", 1)[-1] or "@" in args.image):
        print("tag can't be used with --all-tags/-a", file=sys.stderr)
        return 1
    pull_stream(client, args.image, args.platform, args.quiet, all_tags=args.all_tags)
    return 0


def push(client: Client, argv: list[str]) -> int:
    p = Parser(prog="darse push")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("-a", "--all-tags", action="store_true")
    p.add_argument("--disable-content-trust", action="store_true", default=True)
    p.add_argument("image", metavar="NAME[:TAG]")
    args = p.parse_args(argv)
    name, tag = args.image, None
    if ":" in args.image.rsplit("/", 1)[-1]:
        name, tag = args.image.rsplit(":", 1)
    elif not args.all_tags:
        print("Using default tag: latest")
        tag = "latest"
    events = client.lines("POST", f"/images/{name}/push", {"tag": tag},
                          headers=_auth_header(client, args.image))
    try:
        print_progress(events, args.quiet, ("Pushing",))
    except APIError as exc:
        # docker prints a push stream's error as is, not as a daemon response
        print(exc.message, file=sys.stderr)
        return 1
    return 0


def _image_items(images: list[dict[str, Any]], all_: bool, digests: bool,
                 no_trunc: bool) -> list[dict[str, Any]]:
    items = []
    for img in images:
        by_repo: dict[str, tuple[list[str], list[str]]] = {}
        for t in img.get("RepoTags") or []:
            repo, _, tag = t.rpartition(":")
            by_repo.setdefault(repo, ([], []))[0].append(tag)
        for d in img.get("RepoDigests") or []:
            repo, _, dgst = d.partition("@")
            by_repo.setdefault(repo, ([], []))[1].append(dgst)
        # as docker: a row per tag (per tag and digest with --digests), and a repository
        # known only by digest still gets its row, tagged <none>
        rows = [(repo, tag, dgst) for repo, (tags, dgsts) in by_repo.items()
                for tag in tags or ["<none>"]
                for dgst in (dgsts if digests and dgsts else ["<none>"])]
        for repo, tag, dgst in rows or [("<none>", "<none>", "<none>")]:
            items.append({"Repository": repo, "Tag": tag, "Digest": dgst,
                          "ID": img["Id"] if no_trunc else short(img["Id"]),
                          "CreatedSince": ago(img["Created"]), "CreatedAt": img["Created"],
                          "Size": human_size(img["Size"])})
    return items


def images(client: Client, argv: list[str]) -> int:
    p = Parser(prog="darse images")
    p.add_argument("-a", "--all", action="store_true")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("--digests", action="store_true")
    p.add_argument("--no-trunc", action="store_true")
    p.add_argument("-f", "--filter", action="append", default=[])
    p.add_argument("--format")
    p.add_argument("reference", nargs="?", metavar="[REPOSITORY[:TAG]]")
    args = p.parse_args(argv)
    filters = common_filters(args.filter)
    if args.reference:
        filters.setdefault("reference", []).append(args.reference)
    rows = client.json("GET", "/images/json", {"all": args.all, "filters": json.dumps(filters)
                                               if filters else None})
    items = _image_items(rows, args.all, args.digests, args.no_trunc)
    if args.quiet:
        seen = []
        for i in items:
            if i["ID"] not in seen:
                seen.append(i["ID"])
                print(i["ID"])
        return 0
    columns = list(IMAGE_COLUMNS)
    if args.digests:
        columns.insert(2, ("DIGEST", "Digest"))
    render(args.format, columns, items)
    return 0


def tag(client: Client, argv: list[str]) -> int:
    p = Parser(prog="darse tag")
    p.add_argument("source", metavar="SOURCE_IMAGE[:TAG]")
    p.add_argument("target", metavar="TARGET_IMAGE[:TAG]")
    args = p.parse_args(argv)
    from darse.errors import InvalidArgument
    from darse.image.reference import parse

    try:  # checked before the daemon is asked, as the docker CLI
        parse(args.target)
    except InvalidArgument as exc:
        print(f'Error parsing reference: "{args.target}" is not a valid repository/tag: '
              f"{exc}", file=sys.stderr)
        return 1
    repo, tag_ = args.target, None
    if ":" in args.target.rsplit("/", 1)[-1]:
        repo, tag_ = args.target.rsplit(":", 1)
    client.request("POST", f"/images/{args.source}/tag", {"repo": repo, "tag": tag_}).read()
    return 0


def rmi(client: Client, argv: list[str]) -> int:
    p = Parser(prog="darse rmi")
    p.add_argument("-f", "--force", action="store_true")
    p.add_argument("--no-prune", action="store_true")
    p.add_argument("images", nargs="+")
    args = p.parse_args(argv)
    code = 0
    for name in args.images:
        try:
            for item in client.json("DELETE", f"/images/{name}", {
                    "force": args.force, "noprune": args.no_prune}):
                for k, v in item.items():
                    print(f"{k}: {v}")
        except APIError as exc:
            print(exc.shown, file=sys.stderr)
            code = 1
    return code


def _rfc3339(ts: int) -> str:
    """Go's time.RFC3339 in local time: a zero offset is written Z."""
    text = datetime.datetime.fromtimestamp(ts).astimezone().isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def history(client: Client, argv: list[str]) -> int:
    p = Parser(prog="darse history")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("--no-trunc", action="store_true")
    p.add_argument("-H", "--human", action="store_true", default=True)
    p.add_argument("--format")
    p.add_argument("image")
    args = p.parse_args(argv)
    human = args.human
    items = []
    for h in client.json("GET", f"/images/{args.image}/history"):
        created_by = h["CreatedBy"]
        if not args.no_trunc and len(created_by) > 45:
            created_by = created_by[:44] + "…"
        items.append({"ID": h["Id"] if h["Id"] == "<missing>" or args.no_trunc
                      else short(h["Id"]),
                      # -H=false: docker's machine-readable forms, RFC 3339 and bytes
                      "CreatedSince": ago(h["Created"]) if human else
                      _rfc3339(h["Created"]),
                      "CreatedBy": created_by,
                      "Size": human_size(h["Size"]) if human else str(h["Size"]),
                      "Comment": h["Comment"]})
    render(args.format, [("IMAGE", "ID"), ("CREATED", "CreatedSince"),
                         ("CREATED BY", "CreatedBy"), ("SIZE", "Size"),
                         ("COMMENT", "Comment")], items, "ID", args.quiet)
    return 0


def save(client: Client, argv: list[str]) -> int:
    p = Parser(prog="darse save")
    p.add_argument("-o", "--output")
    p.add_argument("images", nargs="+")
    args = p.parse_args(argv)
    if not args.output and sys.stdout.isatty():
        print("darse: cowardly refusing to save to a terminal. Use the -o flag or redirect",
              file=sys.stderr)
        return 1
    resp = client.request("GET", "/images/get", {"names": args.images})
    out = open(args.output, "wb") if args.output else sys.stdout.buffer  # noqa: SIM115
    while chunk := resp.read(1 << 20):
        out.write(chunk)
    out.flush()
    return 0


def load(client: Client, argv: list[str]) -> int:
    p = Parser(prog="darse load")
    p.add_argument("-i", "--input")
    p.add_argument("-q", "--quiet", action="store_true")
    args = p.parse_args(argv)
    src = open(args.input, "rb") if args.input else sys.stdin.buffer  # noqa: SIM115
    for event in client.lines("POST", "/images/load", {"quiet": args.quiet}, body=src):
        if "error" in event:
            print(event["error"], file=sys.stderr)
            return 1
        if event.get("stream"):
            sys.stdout.write(event["stream"])
    return 0


def import_(client: Client, argv: list[str]) -> int:
    p = Parser(prog="darse import")
    p.add_argument("-c", "--change", action="append", default=[])
    p.add_argument("-m", "--message", default="")
    p.add_argument("--platform")
    p.add_argument("file", metavar="file|URL|-")
    p.add_argument("reference", nargs="?", metavar="[REPOSITORY[:TAG]]")
    args = p.parse_args(argv)
    repo, tag_ = args.reference, None
    if repo and ":" in repo.rsplit("/", 1)[-1]:
        repo, tag_ = repo.rsplit(":", 1)
    src = sys.stdin.buffer if args.file == "-" else open(args.file, "rb")  # noqa: SIM115
    query = {"fromSrc": "-", "repo": repo, "tag": tag_, "changes": args.change,
             "message": args.message or None, "platform": args.platform}
    for event in client.lines("POST", "/images/create", query, body=src):
        if "error" in event:
            print(event["error"], file=sys.stderr)
            return 1
        print(event.get("status", ""))
    return 0


def prune(client: Client, argv: list[str]) -> int:
    p = Parser(prog="darse image prune")
    p.add_argument("-a", "--all", action="store_true")
    p.add_argument("-f", "--force", action="store_true")
    p.add_argument("--filter", action="append", default=[])
    args = p.parse_args(argv)
    if not args.force and not confirm("This will remove all dangling images."):
        return 0
    out = client.json("POST", "/images/prune", {"filters": json.dumps(
        {**common_filters(args.filter), "dangling": ["false" if args.all else "true"]})})
    print_pruned("Images", [f"{k.lower()}: {v}" for item in out.get("ImagesDeleted") or []
                            for k, v in item.items()], out.get("SpaceReclaimed", 0))
    return 0


def inspect(client: Client, argv: list[str]) -> int:
    from darse.cli.commands.system import inspect_objects

    return inspect_objects(client, argv, "image", "darse image inspect")

