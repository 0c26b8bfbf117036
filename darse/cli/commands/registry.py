"""darse registry serve | gc: darse's own registry, run in the foreground (no darsed)."""

from __future__ import annotations

import os
import sys

from darse.cli import Parser
from darse.cli.client import Client


def _root(path: str | None) -> str:
    return os.path.abspath(path or "/var/lib/darse-registry")


def serve(client: Client, argv: list[str]) -> int:
    p = Parser(prog="darse registry serve")
    p.add_argument("--addr", default="127.0.0.1:5000")
    p.add_argument("--root")
    p.add_argument("--htpasswd")
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    p.add_argument("--read-only", action="store_true")
    p.add_argument("--upload-ttl", type=float, default=None)
    args = p.parse_args(argv)
    if bool(args.tls_cert) != bool(args.tls_key):
        print("darse registry serve: --tls-cert and --tls-key go together", file=sys.stderr)
        return 125
    host, sep, port = args.addr.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        print(f"darse registry serve: invalid --addr {args.addr!r}: HOST:PORT",
              file=sys.stderr)
        return 125
    from darse.errors import DarseError
    from darse.registry import gc
    from darse.registry.serve import Options
    from darse.registry.serve import serve as run

    options = Options(args.addr, _root(args.root), args.htpasswd, args.tls_cert, args.tls_key,
                      args.read_only, args.upload_ttl or gc.UPLOAD_TTL)
    try:
        run(options)
    except (DarseError, OSError) as exc:
        print(f"darse registry serve: {exc}", file=sys.stderr)
        return 1
    return 0


def gc(client: Client, argv: list[str]) -> int:
    p = Parser(prog="darse registry gc")
    p.add_argument("--root")
    p.add_argument("--grace", type=float, default=None)
    p.add_argument("--upload-ttl", type=float, default=None)
    p.add_argument("--dry-run", action="store_true")
    args = p.parse_args(argv)
    from darse.registry import gc as collector
    from darse.registry.storage import Storage
    from darse.units import human_size

    root = _root(args.root)
    if not os.path.isdir(os.path.join(root, "blobs")):
        print(f"darse registry gc: {root} is not a registry root", file=sys.stderr)
        return 1
    report = collector.collect(
        Storage(root), collector.GRACE if args.grace is None else args.grace,
        collector.UPLOAD_TTL if args.upload_ttl is None else args.upload_ttl, args.dry_run)
    for digest in report.blobs:
        print(f"{'would delete' if args.dry_run else 'deleted'} blob {digest}")
    for uuid in report.uploads:
        print(f"deleted upload {uuid}")
    print(f"Total reclaimed space: {human_size(report.freed)}")
    return 0
