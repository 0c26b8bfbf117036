"""darsed: the daemon serving the Docker Engine API over the engine."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys

DEFAULT_CONFIG = "/etc/darse/daemon.json"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="darsed", description="darse's daemon (Docker Engine API)")
    p.add_argument("-H", "--host", action="append", default=[],
                   help="unix:///path or tcp://addr:port (default unix:///run/darse.sock)")
    p.add_argument("--data-root", default=None)
    p.add_argument("--exec-root", default=None)
    p.add_argument("--config-file", default=DEFAULT_CONFIG)
    p.add_argument("-G", "--group", default=None)
    p.add_argument("--insecure-registry", action="append", default=[])
    p.add_argument("--registry-mirror", action="append", default=[])
    p.add_argument("--dns", action="append", default=[])
    p.add_argument("-b", "--bridge", default=None, help="the default bridge's interface name")
    p.add_argument("--bip", default=None)
    p.add_argument("--cleanup", action="store_true",
                   help="on exit, remove darse's bridges and nftables table (tests, uninstall)")
    p.add_argument("--cri", action="store_true",
                   help="also serve Kubernetes' CRI (gRPC) on --cri-socket")
    p.add_argument("--cri-socket", default=None,
                   help="the CRI socket (implies --cri; default /run/darse/cri.sock)")
    p.add_argument("--cni-conf-dir", default="/etc/cni/net.d",
                   help="where pods' CNI network configuration lists are")
    p.add_argument("--cni-bin-dir", action="append", default=[],
                   help="where CNI plugins are (default /usr/lib/cni and /opt/cni/bin)")
    p.add_argument("--registry", default=None, metavar="ADDR",
                   help="also serve darse's registry on ADDR (HOST:PORT), no container needed")
    p.add_argument("--registry-root", default="/var/lib/darse-registry",
                   help="the registry's storage (its own, not the daemon's content store)")
    p.add_argument("-D", "--debug", action="store_true")
    p.add_argument("-v", "--version", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    for name in ("data_root", "exec_root", "config_file"):
        if getattr(args, name):
            setattr(args, name, os.path.abspath(getattr(args, name)))
    # Hold no caller's folder: the daemon outlives the shell that started it.
    os.chdir("/")
    if args.version:
        from darse import __version__

        print(f"darsed version {__version__}")
        return 0
    from darse.api.server import serve
    from darse.engine.config import load
    from darse.engine.engine import Engine
    from darse.errors import DarseError

    try:
        config = load(args.config_file, {
            "hosts": args.host, "data-root": args.data_root, "exec-root": args.exec_root,
            "group": args.group, "insecure-registries": args.insecure_registry,
            "registry-mirrors": args.registry_mirror, "dns": args.dns,
            "bridge": args.bridge, "bip": args.bip,
            "debug": args.debug or None})
        engine = Engine(config)
        engine.startup()
        cri = None
        if args.cri or args.cri_socket:
            from darse.cri import DEFAULT_SOCKET
            from darse.cri.server import serve as serve_cri

            cri = serve_cri(engine, os.path.abspath(args.cri_socket or DEFAULT_SOCKET),
                            args.cni_conf_dir,
                            tuple(args.cni_bin_dir) or ("/usr/lib/cni", "/opt/cni/bin"))
    except DarseError as exc:
        print(f"darsed: {exc}", file=sys.stderr)
        return 1
    os.makedirs(config.exec_root, exist_ok=True)
    with open(os.path.join(config.exec_root, "darsed.pid"), "w") as f:
        f.write(str(os.getpid()))
    loop = asyncio.new_event_loop()
    stop_registry = None
    try:
        registry = _registry_options(args, config.raw.get("registry"))
        if registry is not None:
            from darse.registry.serve import start

            stop_registry = loop.run_until_complete(start(registry))
    except (DarseError, OSError, ValueError) as exc:
        print(f"darsed: registry: {exc}", file=sys.stderr)
        if cri is not None:
            cri.stop(grace=0)
        engine.close()
        if args.cleanup:
            engine.networks.teardown()
        return 1
    task = loop.create_task(serve(engine, config.hosts, config.group))
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)  # containers live on (live-restore)
    try:
        loop.run_until_complete(task)
    except asyncio.CancelledError:
        pass
    finally:
        if stop_registry is not None:
            loop.run_until_complete(stop_registry())
        if cri is not None:
            cri.stop(grace=1)
        engine.close()
        if args.cleanup:
            engine.networks.teardown()
    # Executor threads may still sit in long engine calls (waits): they hold nothing
    # that needs flushing, so do not let the interpreter join them.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _registry_options(args: argparse.Namespace, setting: object):  # noqa: ANN202
    """--registry ADDR, else daemon.json's "registry": {"addr", "root", "htpasswd",
    "tls-cert", "tls-key", "read-only"}; None when neither asks for one."""
    from darse.errors import InvalidArgument

    if not args.registry and not setting:
        return None
    from darse.registry.serve import Options

    if args.registry:
        return Options(args.registry, os.path.abspath(args.registry_root))
    if not isinstance(setting, dict) or not isinstance(setting.get("addr"), str):
        raise InvalidArgument('daemon.json: "registry" takes {"addr": "HOST:PORT", ...}')
    known = {"addr", "root", "htpasswd", "tls-cert", "tls-key", "read-only"}
    if set(setting) - known:
        raise InvalidArgument(f'daemon.json: "registry": unknown keys '
                              f'{", ".join(sorted(set(setting) - known))}')
    return Options(setting["addr"], os.path.abspath(setting.get("root", args.registry_root)),
                   setting.get("htpasswd"), setting.get("tls-cert"), setting.get("tls-key"),
                   bool(setting.get("read-only")))


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
