"""Container commands: run, create, start, stop, restart, kill, rm, logs, exec, wait,
attach, top, rename, pause, unpause, prune, inspect, export (ps: darse.cli.commands.ps)."""

from __future__ import annotations

import _socket
import posix as os  # os costs 1.5 ms of every run (its environ mapping); posix is built in
import select
import sys

from darse.cli import Parser, flagtypes, run_flags, security_flags
from darse.cli.client import APIError, Client
from darse.cli.flags import REMAINDER, Namespace
from darse.cli.stream import Demuxer

TYPE_CHECKING = False  # typing, socket, signal and threading cost ms on every command
if TYPE_CHECKING:
    import socket
    from collections.abc import Callable
    from typing import Any

# --- run and create -------------------------------------------------------------


def _create_parser(prog: str) -> Parser:
    p = Parser(prog=prog)
    if prog == "darse run":  # docker create has none of these
        p.add_argument("-d", "--detach", action="store_true")
        p.add_argument("--detach-keys")
        p.add_argument("--sig-proxy", action="store_true", default=True)
    p.add_argument("-i", "--interactive", action="store_true")
    p.add_argument("-t", "--tty", action="store_true")
    p.add_argument("--rm", action="store_true")
    p.add_argument("--name")
    p.add_argument("-h", "--hostname")
    p.add_argument("--domainname")
    p.add_argument("--dns", action="append", default=[], type=flagtypes.ip_address)
    p.add_argument("--dns-search", action="append", default=[], type=flagtypes.dns_search)
    p.add_argument("--dns-option", action="append", default=[])
    p.add_argument("--add-host", action="append", default=[], type=flagtypes.add_host)
    p.add_argument("-e", "--env", action="append", default=[], type=flagtypes.env)
    p.add_argument("--env-file", action="append", default=[])
    p.add_argument("-w", "--workdir")
    p.add_argument("-u", "--user")
    p.add_argument("--group-add", action="append", default=[])
    p.add_argument("--entrypoint")
    p.add_argument("--init", action="store_true")
    p.add_argument("-l", "--label", action="append", default=[])
    p.add_argument("--stop-signal")
    p.add_argument("--stop-timeout", type=flagtypes.int64)
    p.add_argument("--read-only", action="store_true")
    p.add_argument("--privileged", action="store_true")
    p.add_argument("--cap-add", action="append", default=[])
    p.add_argument("--cap-drop", action="append", default=[])
    p.add_argument("--security-opt", action="append", default=[])
    p.add_argument("--pull", default="missing", choices=("always", "missing", "never"))
    p.add_argument("--platform")
    p.add_argument("--runtime")
    p.add_argument("-a", "--attach", action="append", default=[], type=flagtypes.attach_stream)
    p.add_argument("--network", "--net", default="")
    p.add_argument("--restart", default="no")
    p.add_argument("-m", "--memory", type=flagtypes.ram_bytes)
    p.add_argument("--cpus", type=flagtypes.nano_cpus)
    p.add_argument("-c", "--cpu-shares", type=flagtypes.int64)
    p.add_argument("--pids-limit", type=flagtypes.int64)
    p.add_argument("--shm-size", type=flagtypes.ram_bytes)
    p.add_argument("--log-opt", action="append", default=[])
    p.add_argument("--sysctl", action="append", default=[])
    p.add_argument("--device", action="append", default=[])
    p.add_argument("--device-cgroup-rule", action="append", default=[])
    p.add_argument("--expose", action="append", default=[])
    p.add_argument("-p", "--publish", action="append", default=[])
    p.add_argument("-P", "--publish-all", action="store_true")
    p.add_argument("--ip")
    p.add_argument("--network-alias", action="append", default=[])
    p.add_argument("-v", "--volume", action="append", default=[])
    p.add_argument("--mount", action="append", default=[])
    p.add_argument("--tmpfs", action="append", default=[])
    p.add_argument("--volumes-from", action="append", default=[])
    run_flags.add(p)
    p.add_argument("image")
    p.add_argument("command", nargs=REMAINDER, metavar="[COMMAND] [ARG...]")
    return p


def _size(text: str | None) -> int | None:
    if not text:
        return None
    units = {"b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
    t = text.lower()
    return int(float(t[:-1]) * units[t[-1]]) if t[-1] in units else int(t)


def _env(args: Namespace) -> list[str]:
    env = []
    for path in args.env_file:
        _checked(lambda p: env.extend(run_flags.key_value_file(p, from_env=True)), path)
    for item in args.env:
        value = os.environ.get(item.encode(errors="surrogateescape"))
        env.append(item if "=" in item or value is None else
                   f"{item}={value.decode(errors='surrogateescape')}")
    return env


def _body(args: Namespace) -> dict[str, Any]:
    restart, _, retries = args.restart.partition(":")
    attach = set(args.attach) or ({"stdout", "stderr"} | ({"stdin"} if args.interactive
                                                          else set()))
    config: dict[str, Any] = {
        "Image": args.image, "Cmd": args.command or None, "Env": _env(args),
        "Tty": args.tty, "OpenStdin": args.interactive,
        "StdinOnce": args.interactive and not args.detach,
        "AttachStdin": not args.detach and "stdin" in attach,
        "AttachStdout": not args.detach and "stdout" in attach,
        "AttachStderr": not args.detach and "stderr" in attach,
        "Labels": dict(label.split("=", 1) if "=" in label else (label, "")
                       for label in args.label),
    }
    for key, value in (("Hostname", args.hostname), ("Domainname", args.domainname),
                       ("WorkingDir", args.workdir), ("User", args.user),
                       ("StopSignal", args.stop_signal), ("StopTimeout", args.stop_timeout)):
        if value is not None:
            config[key] = value
    if args.entrypoint is not None:
        config["Entrypoint"] = [args.entrypoint] if args.entrypoint else []
    exposed, bindings = parse_publish(args.publish)
    exposed.update(_expose(args.expose))
    if exposed:
        config["ExposedPorts"] = {p: {} for p in sorted(exposed)}
    # -v /path is an anonymous volume (Config.Volumes); any other -v goes to Binds.
    volumes = {v: {} for v in args.volume if ":" not in v}
    if volumes:
        config["Volumes"] = volumes
    host: dict[str, Any] = {
        "AutoRemove": args.rm, "Dns": args.dns, "DnsSearch": args.dns_search,
        "DnsOptions": args.dns_option, "ExtraHosts": args.add_host,
        "Privileged": args.privileged, "CapAdd": args.cap_add, "CapDrop": args.cap_drop,
        "ReadonlyRootfs": args.read_only,
        "NetworkMode": args.network or "default", "Init": args.init or None,
        "GroupAdd": args.group_add or None,
        "RestartPolicy": {"Name": restart, "MaximumRetryCount": int(retries or 0)},
        "LogConfig": {"Type": "json-file",
                      "Config": dict((o.split("=", 1) + [""])[:2] for o in args.log_opt)},
        "Binds": [v for v in args.volume if ":" in v],
        "Mounts": [parse_mount(m) for m in args.mount],
        "Tmpfs": dict((t.split(":", 1) + [""])[:2] for t in args.tmpfs),
        "VolumesFrom": args.volumes_from,
        "PortBindings": bindings, "PublishAllPorts": args.publish_all,
    }
    try:
        host.update(security_flags.host_config(args.device, args.device_cgroup_rule,
                                               args.sysctl))
        host["SecurityOpt"] = security_flags.security_opts(args.security_opt)
    except security_flags.FlagValueError as exc:
        raise FlagError(str(exc)) from None
    if args.ip or args.network_alias:
        net = args.network or "bridge"
        ep: dict[str, Any] = {"Aliases": args.network_alias}
        if args.ip:
            ep["IPAMConfig"] = {"IPv4Address": args.ip}
        config["NetworkingConfig"] = {"EndpointsConfig": {net: ep}}
    if args.memory:
        host["Memory"] = args.memory
    if args.cpus:
        host["NanoCpus"] = args.cpus
    if args.cpu_shares:
        host["CpuShares"] = args.cpu_shares
    if args.pids_limit:
        host["PidsLimit"] = args.pids_limit
    if args.shm_size:
        host["ShmSize"] = args.shm_size
    if args.runtime:
        host["Runtime"] = args.runtime
    try:
        run_flags.apply(args, config, host)
    except run_flags.RunFlagError as exc:
        raise FlagError(str(exc)) from None
    config["HostConfig"] = host
    return config


class FlagError(Exception):
    """A flag value docker's CLI refuses before talking to the daemon."""


def _port_range(text: str, what: str, spec: str) -> list[int]:
    try:
        if "-" in text:
            lo, hi = (flagtypes.uint16(x, base=10) for x in text.split("-", 1))
            if lo > hi:
                raise ValueError
            return list(range(lo, hi + 1))
        return [flagtypes.uint16(text, base=10)]
    except ValueError:
        raise FlagError(f"Invalid {what}: {text}" if text else f"invalid port specification: "
                        f"\"{spec}\"") from None


def _expose(specs: list[str]) -> set[str]:
    """--expose PORT[-END][/PROTO]: each port of the range, as the docker CLI."""
    out = set()
    for spec in specs:
        if ":" in spec:
            raise FlagError(f"invalid port format for --expose: {spec}")
        port, _, proto = spec.partition("/")
        bounds = port.split("-", 1)
        try:
            start, end = (flagtypes.uint16(b, base=10) for b in (bounds * 2)[:2])
        except ValueError as exc:
            raise FlagError(f"invalid range format for --expose: {spec}, error: "
                            f"{exc.flag_detail}") from None
        if end < start:
            raise FlagError(f"invalid range format for --expose: {spec}, error: Invalid "
                            f"range specified for the Port: {port}")
        out.update(f"{p}/{proto or 'tcp'}" for p in range(start, end + 1))
    return out


def parse_publish(specs: list[str]) -> tuple[set[str], dict[str, list[dict[str, str]]]]:
    """-p [ip:][hostPort:]containerPort[/proto], ranges included, as the docker CLI."""
    exposed: set[str] = set()
    bindings: dict[str, list[dict[str, str]]] = {}
    for spec in specs:
        body, _, proto = spec.partition("/")
        proto = proto or "tcp"
        if proto not in ("tcp", "udp", "sctp"):
            raise FlagError(f"Invalid proto: {proto}")
        parts = body.rsplit(":", 2) if body.count(":") >= 2 else body.split(":")
        ip = host = ""
        if len(parts) == 3:
            ip, host, container = parts
            ip = ip[1:-1] if ip[:1] == "[" and ip[-1:] == "]" else ip  # [::1]: ::1
        elif len(parts) == 2:
            host, container = parts
        else:
            container = parts[0]
        cports = _port_range(container, "containerPort", spec)
        hports = _port_range(host, "hostPort", spec) if host else [None] * len(cports)
        if len(hports) != len(cports):
            raise FlagError(f"Invalid ranges specified for container and host Ports: "
                            f"{container} and {host}")
        for cp, hp in zip(cports, hports, strict=True):
            key = f"{cp}/{proto}"
            exposed.add(key)
            bindings.setdefault(key, []).append({"HostIp": ip, "HostPort": str(hp or "")})
    return exposed, bindings


_MOUNT_BOOLS = ("readonly", "ro", "volume-nocopy", "bind-nonrecursive")


def parse_mount(text: str) -> dict[str, Any]:
    """--mount type=bind,source=/a,target=/b,readonly: the docker CLI's own parse."""
    m: dict[str, Any] = {"Type": "volume"}
    for field in [f for f in text.split(",") if f != ""]:
        key, eq, value = field.partition("=")
        key = key.strip().lower()
        if not eq and key not in _MOUNT_BOOLS:
            raise FlagError(f"invalid argument \"{text}\" for \"--mount\" flag: invalid "
                            f"field '{field}' must be a key=value pair")
        value = value.strip()
        truth = value.lower() in ("", "1", "true")
        if key == "type":
            m["Type"] = value
        elif key in ("source", "src"):
            m["Source"] = value
        elif key in ("target", "destination", "dst"):
            m["Target"] = value
        elif key in ("readonly", "ro"):
            m["ReadOnly"] = truth
        elif key == "bind-propagation":
            m.setdefault("BindOptions", {})["Propagation"] = value
        elif key == "bind-nonrecursive":
            m.setdefault("BindOptions", {})["NonRecursive"] = truth
        elif key == "consistency":
            m["Consistency"] = value
        elif key == "volume-nocopy":
            m.setdefault("VolumeOptions", {})["NoCopy"] = truth
        elif key == "volume-label":
            k, _, v = value.partition("=")
            m.setdefault("VolumeOptions", {}).setdefault("Labels", {})[k] = v
        elif key == "volume-driver":
            m.setdefault("VolumeOptions", {}).setdefault("DriverConfig", {})["Name"] = value
        elif key == "volume-opt":
            k, _, v = value.partition("=")
            m.setdefault("VolumeOptions", {}).setdefault("DriverConfig", {}).setdefault(
                "Options", {})[k] = v
        elif key == "tmpfs-size":
            m.setdefault("TmpfsOptions", {})["SizeBytes"] = _size(value)
        elif key == "tmpfs-mode":
            m.setdefault("TmpfsOptions", {})["Mode"] = int(value, 8)
        else:
            raise FlagError(f"invalid argument \"{text}\" for \"--mount\" flag: unexpected "
                            f"key '{key}' in '{field}'")
    return m


def _flag_error(prog: str, message: str) -> int:
    """The flag parser's own errors as they are; a value refused after parsing as the
    docker CLI reports it ("darse: ...")."""
    if message.startswith(("invalid argument ", "unknown flag", "unknown shorthand")):
        print(f"{message}\nSee '{prog} --help'.", file=sys.stderr)
        return 125
    return _fail125(prog, message)


def _fail125(prog: str, message: str) -> int:
    message = message.removesuffix(".") + "."  # the docker CLI's reportError
    print(f"darse: {message}\nSee '{prog} --help'.", file=sys.stderr)
    return 125


def _create(client: Client, args: Namespace, prog: str) -> str:
    if args.platform and (problem := flagtypes.platform_problem(args.platform)):
        raise APIError(0, problem)
    body = _body(args)
    query = {"name": args.name} if args.name else {}
    if args.platform:
        query["platform"] = args.platform
    try:
        run_flags.check_cidfile(args)
    except run_flags.RunFlagError as exc:  # found after parsing: docker's bare words
        raise APIError(0, str(exc)) from None
    if args.pull == "always":
        _pull(client, args.image, args.platform, quiet=args.quiet, out=sys.stderr)
    try:
        cid = _warned(client.json("POST", "/containers/create", query, body))
    except APIError as exc:
        if exc.status != 404 or "No such image" not in exc.message or args.pull == "never":
            raise
        if not args.quiet:
            print(f"Unable to find image '{_familiar(args.image)}' locally", file=sys.stderr)
        _pull(client, args.image, args.platform, quiet=args.quiet, out=sys.stderr)
        cid = _warned(client.json("POST", "/containers/create", query, body))
    _checked(run_flags.write_cidfile, args, cid)
    return cid


def _warned(created: dict[str, Any]) -> str:
    for warning in created.get("Warnings") or []:
        print(f"WARNING: {warning}", file=sys.stderr)
    return created["Id"]


def _checked(fn: Callable[..., None], *args: Any) -> None:
    try:
        fn(*args)
    except run_flags.RunFlagError as exc:
        raise FlagError(str(exc)) from None


def _familiar(image: str) -> str:
    last = image.rsplit("/", 1)[-1]
    return image if ":" in last or "@" in image else f"{image}:latest"


def _pull(client: Client, image: str, platform: str | None, quiet: bool, out: Any) -> None:
    from darse.cli.commands.image import pull_stream

    pull_stream(client, image, platform, quiet, out, implicit=True)


def create(client: Client, argv: list[str]) -> int:
    args = _create_parser("darse create").parse_args(argv)
    args.detach, args.detach_keys, args.sig_proxy = False, None, True
    try:
        print(_create(client, args, "darse create"))
    except FlagError as exc:
        return _flag_error("darse create", str(exc))
    except APIError as exc:  # docker create: the daemon's error, status 1
        print(exc.shown, file=sys.stderr)
        return 1
    return 0


def run(client: Client, argv: list[str]) -> int:
    args = _create_parser("darse run").parse_args(argv)
    try:
        cid = _create(client, args, "darse run")
    except FlagError as exc:
        return _flag_error("darse run", str(exc))
    except APIError as exc:
        return _fail125("darse run", exc.shown)
    if args.detach:
        try:
            client.request("POST", f"/containers/{cid}/start").read()
        except APIError as exc:
            return _start_error(exc)
        print(cid)
        return 0
    return _run_attached(client, cid, args)


def _start_error(exc: APIError) -> int:
    """docker run's exit status when the container cannot start (docker's rule)."""
    print(f"darse: Error response from daemon: {exc.message}.", file=sys.stderr)
    msg = exc.message
    if "executable file not found" in msg or "no such file or directory" in msg:
        return 127
    if "permission denied" in msg.lower() or "is a directory" in msg:
        return 126
    return 125


def _run_attached(client: Client, cid: str, args: Namespace) -> int:
    sock = client.hijack(f"/containers/{cid}/attach", {
        "stream": True, "stdin": args.interactive, "stdout": True, "stderr": True,
        "detachKeys": args.detach_keys})
    # Sent before the start it waits for, its answer read once the stream ends: no
    # thread (threading's imports alone cost 3-5 ms of every run).
    wait = client.send("POST", f"/containers/{cid}/wait",
                       {"condition": "removed" if args.rm else "next-exit"})
    try:
        client.request("POST", f"/containers/{cid}/start").read()
    except APIError as exc:
        sock.close()
        return _start_error(exc)
    stream(client, sock, cid, args.tty, args.interactive, exec_id=None)
    try:
        result = _answer(wait)
    except APIError as exc:
        print("darse: " + (f"Error response from daemon: {exc.message}" if exc.status
                           else f"error waiting for container: {exc.message}"),  # it went
              file=sys.stderr)
        return 125
    return result.get("StatusCode", 0)


def _answer(wait: Callable[[], Any]) -> dict[str, Any]:
    """A wait's JSON answer, sent earlier with client.send."""
    from darse.cli import fastjson

    resp = wait()
    try:
        raw = resp.read()
    except ConnectionError:  # the daemon went before its answer was whole
        raise APIError(0, "unexpected EOF") from None
    return fastjson.loads(raw) if raw.strip() else {}


# --- the attached stream ------------------------------------------------------------


def _resize(client: Client, cid: str, exec_id: str | None) -> None:
    try:
        size = os.get_terminal_size(sys.stdout.fileno())
    except OSError:
        return
    path = f"/exec/{exec_id}/resize" if exec_id else f"/containers/{cid}/resize"
    try:
        client.request("POST", path, {"h": size.lines, "w": size.columns}).read()
    except APIError:
        pass


def stream(client: Client, sock: socket.socket, cid: str, tty: bool, stdin: bool,
           exec_id: str | None) -> None:
    """Copy stdin to the socket and the socket to stdout/stderr (demultiplexed unless
    tty); the terminal goes raw for -t, and its size follows ours."""
    saved = None
    if tty and stdin and os.isatty(0):
        import termios  # 1.3 ms: only for a terminal
        import tty as ttymod

        saved = termios.tcgetattr(0)
        ttymod.setraw(0, termios.TCSANOW)
    if tty and os.isatty(1):
        import signal

        _resize(client, cid, exec_id)
        signal.signal(signal.SIGWINCH, lambda *_: _resize(client, cid, exec_id))
    fds = [sock] + ([0] if stdin else [])
    demux = Demuxer()
    try:
        while True:
            ready, _, _ = select.select(fds, [], [])
            if 0 in ready:
                data = os.read(0, 65536)
                if data:
                    sock.sendall(data)
                else:
                    fds.remove(0)
                    try:
                        sock.shutdown(_socket.SHUT_WR)
                    except OSError:
                        pass
            if sock in ready:
                data = sock.recv(65536)
                if not data:
                    break
                if tty:
                    os.write(1, data)
                    continue
                demux.feed(data)
    finally:
        if saved is not None:
            import termios

            termios.tcsetattr(0, termios.TCSADRAIN, saved)
        sock.close()


def top(client: Client, argv: list[str]) -> int:
    p = Parser(prog="darse top")
    p.add_argument("container")
    p.add_argument("ps_args", nargs=REMAINDER, metavar="[ps OPTIONS]")
    args = p.parse_args(argv)
    out = client.json("GET", f"/containers/{args.container}/top",
                      {"ps_args": " ".join(args.ps_args) or None})
    from darse.cli.output import table

    table([out["Titles"], *out["Processes"]], min_width=20)
    return 0


# --- ps, logs, inspect -------------------------------------------------------------------

def port(client: Client, argv: list[str]) -> int:
    p = Parser(prog="darse port")
    p.add_argument("container")
    p.add_argument("private", nargs="?", metavar="[PRIVATE_PORT[/PROTO]]")
    args = p.parse_args(argv)
    info = client.json("GET", f"/containers/{args.container}/json")
    ports = info["NetworkSettings"].get("Ports") or {}
    want = args.private
    if want and "/" not in want:
        want += "/tcp"
    for key in sorted(ports):
        for b in ports[key] or []:
            if want and key != want:
                continue
            line = f"{b['HostIp']}:{b['HostPort']}"
            print(line if want else f"{key} -> {line}")
    return 0


def logs(client: Client, argv: list[str]) -> int:
    p = Parser(prog="darse logs")
    p.add_argument("-f", "--follow", action="store_true")
    p.add_argument("-n", "--tail", default="all")
    p.add_argument("--since")
    p.add_argument("--until")
    p.add_argument("-t", "--timestamps", action="store_true")
    p.add_argument("--details", action="store_true")
    p.add_argument("container")
    args = p.parse_args(argv)
    info = client.json("GET", f"/containers/{args.container}/json")
    from darse.cli.common import timestamp

    for key in ("since", "until"):
        if getattr(args, key):
            try:
                setattr(args, key, timestamp(getattr(args, key)))
            except ValueError as exc:
                print(f'invalid value for "{key}": {exc}', file=sys.stderr)
                return 1
    resp = client.request("GET", f"/containers/{args.container}/logs", {
        "stdout": True, "stderr": True, "follow": args.follow, "tail": args.tail,
        "since": args.since, "until": args.until, "timestamps": args.timestamps,
        "details": args.details})
    tty = info["Config"]["Tty"]
    demux = Demuxer()
    while chunk := resp.read1(65536):
        if tty:
            os.write(1, chunk)
        else:
            demux.feed(chunk)
    return 0


def inspect(client: Client, argv: list[str]) -> int:
    from darse.cli.commands.system import inspect_objects

    return inspect_objects(client, argv, "container", "darse container inspect")


def exec_(client: Client, argv: list[str]) -> int:
    p = Parser(prog="darse exec")
    p.add_argument("-d", "--detach", action="store_true")
    p.add_argument("-i", "--interactive", action="store_true")
    p.add_argument("-t", "--tty", action="store_true")
    p.add_argument("-e", "--env", action="append", default=[], type=flagtypes.env)
    p.add_argument("--env-file", action="append", default=[])
    p.add_argument("-w", "--workdir")
    p.add_argument("-u", "--user")
    p.add_argument("--privileged", action="store_true")
    p.add_argument("--detach-keys")
    p.add_argument("container")
    p.add_argument("command", nargs=REMAINDER, metavar="COMMAND [ARG...]")
    args = p.parse_args(argv)
    if not args.command:
        print('"darse exec" requires at least 2 arguments.\nSee \'darse exec --help\'.\n\n'
              "Usage:  darse exec [OPTIONS] CONTAINER COMMAND [ARG...]", file=sys.stderr)
        return 1
    try:
        env = _env(args)
    except FlagError as exc:  # docker exec: the bare error, status 1
        print(exc, file=sys.stderr)
        return 1
    body = {"Cmd": args.command, "Env": env, "Tty": args.tty,
            "AttachStdin": args.interactive and not args.detach,
            "AttachStdout": not args.detach, "AttachStderr": not args.detach,
            "Privileged": args.privileged, "User": args.user or "",
            "WorkingDir": args.workdir or "", "DetachKeys": args.detach_keys or ""}
    try:
        exec_id = client.json("POST", f"/containers/{args.container}/exec", body=body)["Id"]
    except APIError as exc:  # the docker CLI inspects first: its own words for a missing one
        if exc.status == 404 and "No such container" in exc.message:
            raise APIError(404, f"Error: No such container: {args.container}", plain=True) \
                from None
        raise
    if args.detach:
        client.request("POST", f"/exec/{exec_id}/start", body={"Detach": True,
                                                               "Tty": args.tty}).read()
        return 0
    sock = client.hijack(f"/exec/{exec_id}/start", body={"Detach": False, "Tty": args.tty})
    stream(client, sock, args.container, args.tty, args.interactive, exec_id)
    code = client.json("GET", f"/exec/{exec_id}/json").get("ExitCode")
    return code if isinstance(code, int) else 0


def attach(client: Client, argv: list[str]) -> int:
    p = Parser(prog="darse attach")
    p.add_argument("--no-stdin", action="store_true")
    p.add_argument("--detach-keys")
    p.add_argument("--sig-proxy", action="store_true", default=True)
    p.add_argument("container")
    args = p.parse_args(argv)
    info = client.json("GET", f"/containers/{args.container}/json")
    stdin = not args.no_stdin and info["Config"]["OpenStdin"]
    sock = client.hijack(f"/containers/{info['Id']}/attach", {
        "stream": True, "stdin": stdin, "stdout": True, "stderr": True,
        "detachKeys": args.detach_keys})
    stream(client, sock, info["Id"], info["Config"]["Tty"], stdin, None)
    after = client.json("GET", f"/containers/{info['Id']}/json")
    return 0 if after["State"]["Running"] else after["State"]["ExitCode"]


def export(client: Client, argv: list[str]) -> int:
    p = Parser(prog="darse export")
    p.add_argument("-o", "--output")
    p.add_argument("container")
    args = p.parse_args(argv)
    resp = client.request("GET", f"/containers/{args.container}/export")
    out = open(args.output, "wb") if args.output else sys.stdout.buffer  # noqa: SIM115
    while chunk := resp.read(1 << 20):
        out.write(chunk)
    out.flush()
    return 0

