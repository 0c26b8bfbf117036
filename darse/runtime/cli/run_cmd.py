"""darse-runtime run: create and start; in the foreground, wait and delete."""

from __future__ import annotations

import argparse
import socket

from darse import syscalls
from darse.errors import InvalidArgument
from darse.runtime import foreground, spec
from darse.runtime.cli.create_cmd import add_common
from darse.runtime.create import create
from darse.runtime.delete import delete
from darse.runtime.start import start


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="create and start a container")
    add_common(p)
    p.add_argument("-d", "--detach", action="store_true")
    p.add_argument("--keep", action="store_true", help="do not delete it when it exits")


def run(args: argparse.Namespace) -> int:
    terminal = spec.load(args.bundle).get("process", {}).get("terminal", False)
    server = client = None
    if terminal and not args.console_socket:
        if args.detach:
            raise InvalidArgument("cannot allocate tty if darse-runtime will detach without "
                                  "setting console socket")
        server, client = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    if not args.detach:
        # The init, forked twice for its pid namespace, must come back to us to be waited.
        syscalls.set_child_subreaper()
    st = create(args.root, args.id, args.bundle, console_socket=args.console_socket,
                console_sock=client, pid_file=args.pid_file, no_pivot=args.no_pivot,
                preserve_fds=args.preserve_fds)
    if client is not None:
        client.close()
    try:
        start(args.root, args.id)
    except BaseException:
        delete(args.root, args.id, force=True)
        raise
    if args.detach:
        return 0
    code = foreground.wait(st.pid, server)
    if not args.keep:
        delete(args.root, args.id, force=True)
    return code
