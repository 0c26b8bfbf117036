"""darse-runtime exec: a new process in a running container."""

from __future__ import annotations

import argparse
import copy
import json
import socket

from darse import syscalls
from darse.errors import InvalidArgument
from darse.runtime import foreground, state
from darse.runtime.exec import exec_in


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("exec", help="execute a new process inside a container")
    p.add_argument("id")
    p.add_argument("process_args", nargs=argparse.REMAINDER, metavar="COMMAND")
    p.add_argument("-p", "--process", help="path to a process.json")
    p.add_argument("--console-socket")
    p.add_argument("--cwd")
    p.add_argument("-e", "--env", action="append", default=[])
    p.add_argument("-t", "--tty", action="store_true")
    p.add_argument("-u", "--user", help="UID[:GID]")
    p.add_argument("-g", "--additional-gids", action="append", type=int, default=[])
    p.add_argument("-c", "--cap", action="append", default=[])
    p.add_argument("--no-new-privs", action="store_true")
    p.add_argument("--apparmor")
    p.add_argument("--process-label")
    p.add_argument("-d", "--detach", action="store_true")
    p.add_argument("--pid-file")
    p.add_argument("--preserve-fds", type=int, default=0)


def build_process(args: argparse.Namespace, base: dict) -> dict:
    """A process.json, or the container's process with the command line's changes."""
    if args.process:
        with open(args.process) as f:
            return json.load(f)
    if not args.process_args:
        raise InvalidArgument("exec: no command given (args or --process)")
    proc = copy.deepcopy(base)
    proc["args"] = args.process_args
    proc["terminal"] = args.tty
    if args.cwd:
        proc["cwd"] = args.cwd
    proc["env"] = list(proc.get("env") or []) + args.env
    if args.user:
        uid, _, gid = args.user.partition(":")
        proc["user"] = {"uid": int(uid), "gid": int(gid or 0)}
    if args.additional_gids:
        proc.setdefault("user", {})["additionalGids"] = args.additional_gids
    if args.cap:
        caps = proc.setdefault("capabilities", {})
        for key in ("bounding", "effective", "permitted", "ambient"):
            caps[key] = sorted(set(caps.get(key) or []) | set(args.cap))
    if args.no_new_privs:
        proc["noNewPrivileges"] = True
    proc.pop("consoleSize", None)
    return proc


def run(args: argparse.Namespace) -> int:
    st = state.load(args.root, args.id)
    proc = build_process(args, st.config.get("process") or {})
    server = client = None
    if proc.get("terminal"):
        if args.console_socket:
            client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            client.connect(args.console_socket)
        elif args.detach:
            raise InvalidArgument("cannot allocate tty if darse-runtime will detach without "
                                  "setting console socket")
        else:
            server, client = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    if not args.detach:
        syscalls.set_child_subreaper()
    pid = exec_in(args.root, args.id, proc, console_sock=client, preserve_fds=args.preserve_fds)
    if client is not None:
        client.close()
    if args.pid_file:
        with open(args.pid_file, "w") as f:
            f.write(str(pid))
    if args.detach:
        return 0
    return foreground.wait(pid, server)
