"""System commands: version, info, inspect, events, login, logout."""

from __future__ import annotations

import os
import sys

from darse.cli import Parser
from darse.cli import fastjson as json
from darse.cli.client import APIError, Client
from darse.cli.common import filters_query
from darse.cli.template import Template

TYPE_CHECKING = False  # typing costs milliseconds on every command
if TYPE_CHECKING:
    from typing import Any


def config_path() -> str:
    base = os.environ.get("DARSE_CONFIG") or os.path.join(os.path.expanduser("~"), ".darse")
    return os.path.join(base, "config.json")


def _load_config() -> dict[str, Any]:
    try:
        with open(config_path()) as f:
            return json.loads(f.read())
    except (FileNotFoundError, ValueError):
        return {}


def _registry_key(server: str | None) -> str:
    if not server or server in ("docker.io", "index.docker.io", "registry-1.docker.io"):
        return "https://index.docker.io/v1/"
    return server.split("://", 1)[-1].rstrip("/")


def auth_header(image: str) -> dict[str, str]:
    """X-Registry-Auth for the image's registry, from `darse login`'s credentials."""
    from darse.image.reference import parse

    try:
        domain = parse(image).domain
    except Exception:  # noqa: BLE001 - a bad name is the daemon's to refuse
        return {}
    entry = _load_config().get("auths", {}).get(_registry_key(domain))
    if not entry or "auth" not in entry:
        return {}
    import base64

    user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
    payload = json.dumps({"username": user, "password": password,
                          "serveraddress": _registry_key(domain)}).encode()
    return {"X-Registry-Auth": base64.urlsafe_b64encode(payload).decode()}


def login(client: Client, argv: list[str]) -> int:
    p = Parser(prog="darse login")
    p.add_argument("-u", "--username")
    p.add_argument("-p", "--password")
    p.add_argument("--password-stdin", action="store_true")
    p.add_argument("server", nargs="?")
    args = p.parse_args(argv)
    import base64
    import getpass

    username = args.username or input("Username: ")
    if args.password_stdin:
        password = sys.stdin.read().rstrip("\n")
    else:
        password = args.password or getpass.getpass("Password: ")
    key = _registry_key(args.server)
    client.json("POST", "/auth", body={"username": username, "password": password,
                                       "serveraddress": key})
    config = _load_config()
    config.setdefault("auths", {})[key] = {
        "auth": base64.b64encode(f"{username}:{password}".encode()).decode()}
    os.makedirs(os.path.dirname(config_path()), mode=0o700, exist_ok=True)
    fd = os.open(config_path(), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(json.dumps(config, indent="\t"))
    print("Login Succeeded")
    return 0


def logout(client: Client, argv: list[str]) -> int:
    p = Parser(prog="darse logout")
    p.add_argument("server", nargs="?")
    args = p.parse_args(argv)
    key = _registry_key(args.server)
    config = _load_config()
    if key not in config.get("auths", {}):
        print(f"Not logged in to {key}")
        return 0
    del config["auths"][key]
    with open(config_path(), "w") as f:
        f.write(json.dumps(config, indent="\t"))
    print(f"Removing login credentials for {key}")
    return 0


def version(client: Client, argv: list[str]) -> int:
    p = Parser(prog="darse version")
    p.add_argument("-f", "--format")
    args = p.parse_args(argv)
    from darse import __version__

    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine,
                                                      os.uname().machine)
    client_info = {"Platform": {"Name": ""}, "Version": __version__, "ApiVersion": "1.47",
                   "DefaultAPIVersion": "1.47", "GitCommit": "", "GoVersion": "python" +
                   sys.version.split()[0], "Os": "linux", "Arch": arch,
                   "Context": "default"}
    try:
        server = client.json("GET", "/version")
    except APIError as exc:
        server = None
        error = exc.message
    data = {"Client": client_info, "Server": server}
    if args.format:
        print(Template(args.format).render(data, "version"))
        return 0 if server else 1
    print(f"Client:\n Version:           {__version__}\n API version:       1.47\n"
          f" Go version:        {client_info['GoVersion']}\n Git commit:        \n"
          f" Built:             \n OS/Arch:           linux/{arch}\n"
          " Context:           default\n Experimental:      true")
    if server is None:
        print(error, file=sys.stderr)
        return 1
    print(f"\nServer: {server.get('Platform', {}).get('Name', '')}")
    for part in server.get("Components") or []:
        details = part.get("Details") or {}
        if part.get("Name") == "Engine":
            print(f" Engine:\n  Version:          {part.get('Version', '')}\n"
                  f"  API version:      {details.get('ApiVersion', '')} (minimum version "
                  f"{details.get('MinAPIVersion', '')})\n"
                  f"  Go version:       {details.get('GoVersion', '')}\n"
                  f"  Git commit:       {details.get('GitCommit', '')}\n"
                  f"  Built:            {details.get('BuildTime', '')}\n"
                  f"  OS/Arch:          {details.get('Os', '')}/{details.get('Arch', '')}\n"
                  f"  Experimental:     {details.get('Experimental', '')}")
        else:
            print(f" {part.get('Name', '')}:\n  Version:          {part.get('Version', '')}")
            for key, value in sorted(details.items()):
                print(f"  {key}:{' ' * max(1, 17 - len(key))}{value}")
    return 0


def info(client: Client, argv: list[str]) -> int:
    p = Parser(prog="darse info")
    p.add_argument("-f", "--format")
    args = p.parse_args(argv)
    data = client.json("GET", "/info")
    if args.format:
        print(Template(args.format).render(data))
        return 0
    print(f"""Server:
 Containers: {data['Containers']}
  Running: {data['ContainersRunning']}
  Paused: {data['ContainersPaused']}
  Stopped: {data['ContainersStopped']}
 Images: {data['Images']}
 Server Version: {data['ServerVersion']}
 Storage Driver: {data['Driver']}
 Logging Driver: {data['LoggingDriver']}
 Cgroup Driver: {data['CgroupDriver']}
 Cgroup Version: {data['CgroupVersion']}
 Default Runtime: {data['DefaultRuntime']}
 Kernel Version: {data['KernelVersion']}
 Operating System: {data['OperatingSystem']}
 OSType: {data['OSType']}
 Architecture: {data['Architecture']}
 CPUs: {data['NCPU']}
 Total Memory: {data['MemTotal'] / 1024**3:.2f}GiB
 Name: {data['Name']}
 Docker Root Dir: {data['DockerRootDir']}
 Live Restore Enabled: {str(data['LiveRestoreEnabled']).lower()}""")
    return 0


_INSPECT_PATHS = {"container": "/containers/{}/json", "image": "/images/{}/json",
                  "network": "/networks/{}", "volume": "/volumes/{}"}


def inspect_objects(client: Client, argv: list[str], kind: str | None, prog: str) -> int:
    p = Parser(prog=prog)
    p.add_argument("-f", "--format")
    p.add_argument("-s", "--size", action="store_true")
    p.add_argument("--type", default=kind)
    p.add_argument("names", nargs="+", metavar="NAME|ID")
    args = p.parse_args(argv)
    if args.type and args.type not in _INSPECT_PATHS:
        print(f'"{args.type}" is not a valid value for --type', file=sys.stderr)
        return 1
    if args.size and args.type not in (None, "container"):
        print(f"WARNING: --size ignored for {args.type}", file=sys.stderr)
    results, errors = [], []
    for name in args.names:
        found = None
        for t in [args.type] if args.type else list(_INSPECT_PATHS):
            try:
                found = client.json("GET", _INSPECT_PATHS[t].format(name),
                                    {"size": True} if args.size and t == "container" else None)
                break
            except APIError as exc:
                if exc.status != 404:
                    raise
                missing = exc
        if found is None:
            errors.append(missing.shown if args.type else f"Error: No such object: {name}")
            continue
        results.append((found, t))
    rendered = True
    if args.format:
        from darse.cli.common import render_each

        rendered = render_each(Template(args.format), results)
        if rendered and not results:
            print()  # the docker CLI's template inspector never writes nothing
    else:
        print(json.dumps([r for r, _ in results], indent=4))
    for line in errors:  # after the output, as the docker CLI
        print(line, file=sys.stderr)
    return 1 if errors or not rendered else 0


def inspect(client: Client, argv: list[str]) -> int:
    return inspect_objects(client, argv, None, "darse inspect")


def events(client: Client, argv: list[str]) -> int:
    p = Parser(prog="darse events")
    p.add_argument("--since")
    p.add_argument("--until")
    p.add_argument("-f", "--filter", action="append", default=[])
    p.add_argument("--format")
    args = p.parse_args(argv)
    tmpl = Template(args.format) if args.format and args.format != "json" else None
    import datetime

    from darse.cli.common import timestamp

    try:
        args.since = timestamp(args.since) if args.since else None
        args.until = timestamp(args.until) if args.until else None
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 1

    for e in client.lines("GET", "/events", {"since": args.since, "until": args.until,
                                             "filters": filters_query(args.filter)}):
        if args.format == "json":
            print(json.dumps(e), flush=True)
        elif tmpl:
            print(tmpl.render(e, "event"), flush=True)
        else:
            # Go's RFC3339NanoFixed in local time, as the docker CLI prints it.
            nano = int(e.get("timeNano") or e.get("time", 0) * 10**9)
            ts = datetime.datetime.fromtimestamp(nano // 10**9).astimezone()
            zone = ts.strftime("%z")
            zone = "Z" if zone in ("+0000", "") else f"{zone[:3]}:{zone[3:]}"
            attrs = ", ".join(f"{k}={v}" for k, v in sorted(
                (e["Actor"].get("Attributes") or {}).items()))
            print(f"{ts.strftime('%Y-%m-%dT%H:%M:%S')}.{nano % 10**9:09d}{zone} {e['Type']} "
                  f"{e['Action']} {e['Actor']['ID']}" + (f" ({attrs})" if attrs else ""),
                  flush=True)
    return 0


# --- system df, system prune ------------------------------------------------------------


def _percent(part: int, total: int) -> str:
    from darse.units import human_size

    if total > 0:
        return f"{human_size(part, 4)} ({part * 100 // total}%)"
    return human_size(part, 4)


def df(client: Client, argv: list[str]) -> int:
    p = Parser(prog="darse system df")
    p.add_argument("-v", "--verbose", action="store_true")
    p.add_argument("--format")
    args = p.parse_args(argv)
    from darse.cli.output import table
    from darse.units import human_size

    data = client.json("GET", "/system/df")
    images, containers = data.get("Images") or [], data.get("Containers") or []
    volumes, cache = data.get("Volumes") or [], data.get("BuildCache") or []
    if args.verbose:
        return _df_verbose(images, containers, volumes, cache, data.get("BuilderSize", 0))
    layers = data.get("LayersSize", 0)
    used = sum(i["Size"] - i["SharedSize"] for i in images
               if i.get("Containers", 0) > 0 and i["SharedSize"] != -1)
    ctr_size = sum(c.get("SizeRw", 0) for c in containers)
    ctr_free = sum(c.get("SizeRw", 0) for c in containers
                   if c["State"] not in ("running", "paused"))
    vol_sizes = [(v["UsageData"]["Size"], v["UsageData"]["RefCount"]) for v in volumes
                 if v.get("UsageData") and v["UsageData"]["Size"] != -1]
    vol_size = sum(s for s, _ in vol_sizes)
    rows = [
        ("Images", len(images), sum(1 for i in images if i.get("Containers", 0) > 0),
         human_size(layers, 4), _percent(layers - used, layers)),
        ("Containers", len(containers),
         sum(1 for c in containers if c["State"] in ("running", "paused")),
         human_size(ctr_size, 4), _percent(ctr_free, ctr_size)),
        ("Local Volumes", len(volumes), sum(1 for _, n in vol_sizes if n > 0),
         human_size(vol_size, 4), _percent(sum(s for s, n in vol_sizes if n == 0), vol_size)),
        ("Build Cache", len(cache), sum(1 for c in cache if c.get("InUse")),
         human_size(data.get("BuilderSize", 0), 4),
         human_size(sum(c.get("Size", 0) for c in cache if not c.get("InUse")), 4)),
    ]
    if args.format:
        tmpl = Template(args.format)
        for kind, total, active, size, free in rows:
            print(tmpl.render({"Type": kind, "TotalCount": str(total), "Active": str(active),
                               "Size": size, "Reclaimable": free}))
        return 0
    table([["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]] +
          [[str(c) for c in row] for row in rows])
    return 0


def _df_verbose(images: list[dict[str, Any]], containers: list[dict[str, Any]],
                volumes: list[dict[str, Any]], cache: list[dict[str, Any]],
                builder_size: int) -> int:
    from darse.cli.output import ago, short, table
    from darse.units import human_size

    print("Images space usage:\n")
    rows = [["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE", "SHARED SIZE", "UNIQUE SIZE",
             "CONTAINERS"]]
    for i in images:
        shared = i["SharedSize"]
        for tag in i.get("RepoTags") or ["<none>:<none>"]:
            repo, _, name = tag.rpartition(":")
            rows.append([repo, name, short(i["Id"]), ago(i["Created"]),
                         human_size(i["Size"], 4),
                         human_size(shared, 4) if shared != -1 else "N/A",
                         human_size(i["Size"] - shared, 4) if shared != -1 else "N/A",
                         str(i.get("Containers", 0))])
    table(rows)
    print("\nContainers space usage:\n")
    rows = [["CONTAINER ID", "IMAGE", "COMMAND", "LOCAL VOLUMES", "SIZE", "CREATED", "STATUS",
             "NAMES"]]
    for c in containers:
        command = c["Command"] if len(c["Command"]) <= 20 else c["Command"][:19] + "…"
        rows.append([short(c["Id"]), c["Image"], f'"{command}"',
                     str(sum(1 for m in c.get("Mounts") or [] if m["Type"] == "volume")),
                     human_size(c.get("SizeRw", 0), 4), ago(c["Created"]), c["Status"],
                     ",".join(n.lstrip("/") for n in c["Names"])])
    table(rows)
    print("\nLocal Volumes space usage:\n")
    rows = [["VOLUME NAME", "LINKS", "SIZE"]]
    for v in volumes:
        usage = v.get("UsageData") or {"Size": -1, "RefCount": -1}
        rows.append([v["Name"], str(usage["RefCount"]),
                     human_size(usage["Size"], 4) if usage["Size"] != -1 else "N/A"])
    table(rows)
    print(f"\nBuild cache usage: {human_size(builder_size, 4)}\n")
    table([["CACHE ID", "CACHE TYPE", "SIZE", "CREATED", "LAST USED", "USAGE", "SHARED"]])
    return 0


PRUNE_WARNING = """This will remove:
  - all stopped containers
  - all networks not used by at least one container
{volumes}  - all {images}
  - all {cache}
"""


def prune(client: Client, argv: list[str]) -> int:
    from darse.cli.common import confirm, print_pruned

    p = Parser(prog="darse system prune")
    p.add_argument("-a", "--all", action="store_true")
    p.add_argument("-f", "--force", action="store_true")
    p.add_argument("--volumes", action="store_true")
    p.add_argument("--filter", action="append", default=[])
    args = p.parse_args(argv)
    warning = PRUNE_WARNING.format(
        volumes="  - all volumes not used by at least one container\n" if args.volumes else "",
        images="images without at least one container associated to them" if args.all
        else "dangling images", cache="build cache" if args.all else "dangling build cache")
    if not args.force and not confirm(warning):
        return 0
    query = {"filters": filters_query(args.filter)}
    space = 0
    out = client.json("POST", "/containers/prune", query)
    print_pruned("Containers", out.get("ContainersDeleted") or [], None)
    space += out.get("SpaceReclaimed") or 0
    out = client.json("POST", "/networks/prune", query)
    print_pruned("Networks", out.get("NetworksDeleted") or [], None)
    if args.volumes:
        volume_filters = json.loads(query["filters"] or "{}")
        volume_filters["all"] = ["true"]  # every unused volume, as the warning says
        out = client.json("POST", "/volumes/prune", {"filters": json.dumps(volume_filters)})
        print_pruned("Volumes", out.get("VolumesDeleted") or [], None)
        space += out.get("SpaceReclaimed") or 0
    image_filters = json.loads(query["filters"] or "{}")
    image_filters["dangling"] = ["false" if args.all else "true"]
    out = client.json("POST", "/images/prune", {"filters": json.dumps(image_filters)})
    print_pruned("Images", [f"{k.lower()}: {v}" for item in out.get("ImagesDeleted") or []
                            for k, v in item.items()], None)
    space += out.get("SpaceReclaimed") or 0
    out = client.json("POST", "/build/prune", {"all": args.all or None})
    print_pruned("build cache objects", out.get("CachesDeleted") or [], None)
    space += out.get("SpaceReclaimed") or 0
    print_pruned("", [], space)
    return 0
