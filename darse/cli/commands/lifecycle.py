"""Container lifecycle verbs: start, stop, restart, kill, rm, pause, unpause, rename,
wait, container prune. Each acts on its names in turn and goes on after an error, as
the docker CLI does."""

from __future__ import annotations

import sys

from darse.cli import Parser
from darse.cli.client import APIError, Client
from darse.cli.common import confirm, done, each, filters_query, print_pruned

TYPE_CHECKING = False  # typing costs milliseconds on every command
if TYPE_CHECKING:
    from typing import Any


def _each(client: Client, names: list[str], method: str, path: str,
          query: dict[str, Any] | None = None) -> int:
    return each(names, lambda name: done(client.request(method, path.format(name), query)))


def start(client: Client, argv: list[str]) -> int:
    p = Parser(prog="darse start")
    p.add_argument("-a", "--attach", action="store_true")
    p.add_argument("-i", "--interactive", action="store_true")
    p.add_argument("--detach-keys")
    p.add_argument("containers", nargs="+")
    args = p.parse_args(argv)
    if not args.attach and not args.interactive:
        failed = [name for name in args.containers
                  if _each(client, [name], "POST", "/containers/{}/start")]
        if failed:
            print(f"Error: failed to start containers: {', '.join(failed)}", file=sys.stderr)
        return 1 if failed else 0
    if len(args.containers) > 1:
        print("you cannot start and attach multiple containers at once", file=sys.stderr)
        return 1
    from darse.cli.commands.container import _answer, stream

    info = client.json("GET", f"/containers/{args.containers[0]}/json")
    cid, tty = info["Id"], info["Config"]["Tty"]
    sock = client.hijack(f"/containers/{cid}/attach", {"stream": True, "stdout": True,
                                                       "stderr": True,
                                                       "stdin": args.interactive,
                                                       "detachKeys": args.detach_keys})
    wait = client.send("POST", f"/containers/{cid}/wait", {"condition": "next-exit"})
    client.request("POST", f"/containers/{cid}/start").read()
    stream(client, sock, cid, tty, args.interactive, None)
    return _answer(wait).get("StatusCode", 0)


def stop(client: Client, argv: list[str], path: str = "stop") -> int:
    p = Parser(prog=f"darse {path}")
    p.add_argument("-t", "--time", "--timeout", type=int, dest="time")
    p.add_argument("-s", "--signal")
    p.add_argument("containers", nargs="+")
    args = p.parse_args(argv)
    query = {"t": args.time, "signal": args.signal}
    return _each(client, args.containers, "POST", "/containers/{}/" + path, query)


def restart(client: Client, argv: list[str]) -> int:
    return stop(client, argv, "restart")


def kill(client: Client, argv: list[str]) -> int:
    p = Parser(prog="darse kill")
    p.add_argument("-s", "--signal", default="KILL")
    p.add_argument("containers", nargs="+")
    args = p.parse_args(argv)
    return _each(client, args.containers, "POST", "/containers/{}/kill",
                 {"signal": args.signal})


def rm(client: Client, argv: list[str]) -> int:
    p = Parser(prog="darse rm")
    p.add_argument("-f", "--force", action="store_true")
    p.add_argument("-v", "--volumes", action="store_true")
    p.add_argument("-l", "--link", action="store_true")
    p.add_argument("containers", nargs="+")
    args = p.parse_args(argv)
    return _each(client, args.containers, "DELETE", "/containers/{}",
                 {"force": args.force, "v": args.volumes, "link": args.link or None})


def pause(client: Client, argv: list[str]) -> int:
    p = Parser(prog="darse pause")
    p.add_argument("containers", nargs="+")
    return _each(client, p.parse_args(argv).containers, "POST", "/containers/{}/pause")


def unpause(client: Client, argv: list[str]) -> int:
    p = Parser(prog="darse unpause")
    p.add_argument("containers", nargs="+")
    return _each(client, p.parse_args(argv).containers, "POST", "/containers/{}/unpause")


def rename(client: Client, argv: list[str]) -> int:
    p = Parser(prog="darse rename")
    p.add_argument("container")
    p.add_argument("name", metavar="NEW_NAME")
    args = p.parse_args(argv)
    try:
        client.request("POST", f"/containers/{args.container}/rename",
                       {"name": args.name}).read()
    except APIError as exc:
        print(exc.shown, file=sys.stderr)
        print(f"Error: failed to rename container named {args.container}", file=sys.stderr)
        return 1
    return 0


def wait(client: Client, argv: list[str]) -> int:
    p = Parser(prog="darse wait")
    p.add_argument("containers", nargs="+")
    return each(p.parse_args(argv).containers,
                lambda name: client.json("POST", f"/containers/{name}/wait")["StatusCode"])


def prune(client: Client, argv: list[str]) -> int:
    p = Parser(prog="darse container prune")
    p.add_argument("-f", "--force", action="store_true")
    p.add_argument("--filter", action="append", default=[])
    args = p.parse_args(argv)
    if not args.force and not confirm("This will remove all stopped containers."):
        return 0
    out = client.json("POST", "/containers/prune", {"filters": filters_query(args.filter)})
    print_pruned("Containers", out.get("ContainersDeleted") or [],
                 out.get("SpaceReclaimed", 0))
    return 0
