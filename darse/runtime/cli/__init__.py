"""darse-runtime: runc's command line over darse.runtime.

One module per sub-command; each has add(subparsers) and run(args) -> exit code.
Errors are printed on stderr as runc prints them, with exit status 1.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from darse.errors import DarseError

COMMANDS = ("create", "start", "state", "kill", "delete", "run", "exec", "ps", "list",
            "pause", "resume", "features", "spec")


def parser() -> argparse.ArgumentParser:
    from darse.runtime.state import DEFAULT_ROOT

    p = argparse.ArgumentParser(prog="darse-runtime",
                                description="darse's OCI container runtime (runc-compatible)")
    p.add_argument("--root", default=DEFAULT_ROOT, help="root directory for container state")
    p.add_argument("--log", default="", help="log file (accepted for runc compatibility)")
    p.add_argument("--log-format", default="text", choices=("text", "json"))
    p.add_argument("--debug", action="store_true")
    p.add_argument("--systemd-cgroup", action="store_true")
    p.add_argument("--rootless", default="auto")
    p.add_argument("-v", "--version", action="store_true")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"darse.runtime.cli.{name}_cmd").add(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.version:
        from darse import __version__
        from darse.runtime.spec import OCI_VERSION

        print(f"darse-runtime version {__version__}\nspec: {OCI_VERSION}")
        return 0
    if not args.command:
        parser().print_help()
        return 1
    if args.debug:
        os.environ["DARSE_RUNTIME_DEBUG"] = "1"
    if args.systemd_cgroup:
        print("darse-runtime: the systemd cgroup driver is not supported", file=sys.stderr)
        return 1
    module = importlib.import_module(f"darse.runtime.cli.{args.command}_cmd")
    try:
        return module.run(args)
    except DarseError as exc:
        print(f"darse-runtime {args.command} failed: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        where = f": {exc.filename}" if exc.filename else ""
        print(f"darse-runtime {args.command} failed: {exc.strerror}{where}", file=sys.stderr)
        return 1


def entry() -> None:
    sys.exit(main())
