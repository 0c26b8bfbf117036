"""darse build: the context (a folder, or stdin) sent as a tar, .dockerignore applied
as the docker CLI applies it, the daemon's stream printed."""

from __future__ import annotations

import io
import json
import os
import sys
import tarfile
import tempfile

from darse.cli import Parser
from darse.cli.client import Client

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import IO, Any


def _size(n: float) -> str:
    units = ["B", "kB", "MB", "GB", "TB"]
    i = 0
    while n >= 1000 and i < len(units) - 1:
        n /= 1000
        i += 1
    return f"{n:.4g}{units[i]}"


def _parser() -> Parser:
    p = Parser(prog="darse build")
    p.add_argument("-t", "--tag", action="append", default=[])
    p.add_argument("-f", "--file")
    p.add_argument("--build-arg", action="append", default=[])
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("--no-cache", action="store_true")
    p.add_argument("--pull", action="store_true")
    p.add_argument("--cache-from", action="append", default=[])
    p.add_argument("--label", action="append", default=[])
    p.add_argument("--target")
    p.add_argument("--network", default="default")
    p.add_argument("--add-host", action="append", default=[])
    p.add_argument("--shm-size")
    p.add_argument("--rm", action="store_true", default=True)
    p.add_argument("--force-rm", action="store_true")
    p.add_argument("--squash", action="store_true")
    p.add_argument("--platform")
    p.add_argument("--iidfile")
    # the limits of every RUN's container, as docker run's flags of the same names
    from darse.cli import flagtypes

    p.add_argument("--cgroup-parent")
    p.add_argument("--cpu-period", type=flagtypes.int64)
    p.add_argument("--cpu-quota", type=flagtypes.int64)
    p.add_argument("-c", "--cpu-shares", type=flagtypes.int64)
    p.add_argument("--cpuset-cpus")
    p.add_argument("--cpuset-mems")
    p.add_argument("-m", "--memory", type=flagtypes.ram_bytes)
    p.add_argument("--memory-swap", type=flagtypes.ram_or_unlimited)
    p.add_argument("--ulimit", action="append", default=[])
    p.add_argument("--isolation")
    p.add_argument("--security-opt", action="append", default=[])
    p.add_argument("--compress", action="store_true")  # the context goes over a local socket
    p.add_argument("--disable-content-trust", action="store_true", default=True)
    p.add_argument("path", metavar="PATH | URL | -")
    return p


def _bytes(text: str) -> int:
    units = {"b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    text = text.strip().lower()
    if text[-1:] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def _context_tar(path: str, dockerfile: str | None, out: IO[bytes]) -> str:
    """The folder as a tar into out, what .dockerignore excludes left out (the
    Dockerfile and .dockerignore always sent: the daemon reads them, and drops them if
    they are excluded). A Dockerfile outside the folder goes in under a name of its own
    that the .dockerignore sent with it excludes, so `COPY .` never sees it. Returns
    the Dockerfile's name in the context."""
    from darse.build import ignore

    ignore_text = ""
    ignore_path = os.path.join(path, ignore.IGNORE_FILE)
    if os.path.isfile(ignore_path):
        with open(ignore_path, errors="replace") as f:
            ignore_text = f.read()
    patterns = ignore.parse(ignore_text)
    name, outside = "Dockerfile", None
    if dockerfile == "-":
        outside = sys.stdin.buffer.read()
    elif dockerfile:
        full = os.path.abspath(dockerfile)
        rel = os.path.relpath(full, os.path.abspath(path))
        if rel.startswith(".."):
            with open(full, "rb") as f:
                outside = f.read()
        else:
            name = rel.replace(os.sep, "/")
    keep = (name, ignore.IGNORE_FILE)
    start = out.tell()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT) as tf:
        tf.copybufsize = 1 << 20
        links: dict[tuple[int, int], str] = {}
        for rel, _ in ignore.walk(path, patterns, keep):
            if outside is not None and rel == ignore.IGNORE_FILE:
                continue  # sent below, with the Dockerfile's own name added
            _add_entry(tf, os.path.join(path, rel), rel, links)
        if outside is not None:
            name = f".dockerfile.{os.urandom(10).hex()}"
            _add_bytes(tf, name, outside)
            # A .dockerignore made here lists itself too: the image never sees it.
            base = ignore_text if os.path.isfile(ignore_path) else ignore.IGNORE_FILE
            _add_bytes(tf, ignore.IGNORE_FILE, f"{base.rstrip()}\n{name}\n".encode())
    # Without tarfile's padding to 10 KiB records, as Go's archive/tar (the size that
    # "Sending build context" reports is docker's).
    out.truncate(start + tf.offset)
    out.seek(start + tf.offset)
    return name


def _add_entry(tf: tarfile.TarFile, full: str, rel: str,
               links: dict[tuple[int, int], str]) -> None:
    """One entry, its header made from lstat alone: no user or group name lookups (the
    daemon reads ids), hard links within the context kept as links."""
    import stat

    st = os.lstat(full)
    info = tarfile.TarInfo(rel)
    info.mode, info.uid, info.gid = stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid
    info.mtime = int(st.st_mtime)
    if stat.S_ISDIR(st.st_mode):
        info.type = tarfile.DIRTYPE
    elif stat.S_ISLNK(st.st_mode):
        info.type, info.linkname = tarfile.SYMTYPE, os.readlink(full)
    elif stat.S_ISREG(st.st_mode):
        if st.st_nlink > 1:
            first = links.setdefault((st.st_dev, st.st_ino), rel)
            if first != rel:
                info.type, info.linkname = tarfile.LNKTYPE, first
                tf.addfile(info)
                return
        info.size = st.st_size
        with open(full, "rb") as f:
            tf.addfile(info, f)
        return
    elif stat.S_ISFIFO(st.st_mode):
        info.type = tarfile.FIFOTYPE
    elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
        info.type = tarfile.CHRTYPE if stat.S_ISCHR(st.st_mode) else tarfile.BLKTYPE
        info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
    else:
        return  # a socket: nothing to send
    tf.addfile(info)


def _add_bytes(tf: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), 0o600
    tf.addfile(info, io.BytesIO(data))


def _stdin_context(out: IO[bytes]) -> str:
    """`build -`: a tar on stdin is the context; anything else is a Dockerfile alone."""
    data = sys.stdin.buffer.read()
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tf:
            tf.getmembers()
        out.write(data)
        return "Dockerfile"
    except tarfile.TarError:
        pass
    with tarfile.open(fileobj=out, mode="w") as tf:
        _add_bytes(tf, "Dockerfile", data)
    return "Dockerfile"


class _Progress:
    """What a person wants at the end of a build: how long, how many steps came from
    the cache, which step took longest."""

    def __init__(self) -> None:
        import time

        self.clock = time.monotonic
        self.start = self.clock()
        self.steps: list[tuple[str, float]] = []
        self.hits = 0

    def see(self, text: str) -> None:
        now = self.clock()
        if text.startswith("Step "):
            self.steps.append((text.split(" : ", 1)[0], now))
        elif text.startswith(" ---> Using cache"):
            self.hits += 1

    def summary(self) -> str:
        end = self.clock()
        times = [(name, (self.steps[i + 1][1] if i + 1 < len(self.steps) else end) - at)
                 for i, (name, at) in enumerate(self.steps)]
        text = (f"Built in {end - self.start:.2f}s: {len(times)} steps, {self.hits} from "
                "the cache")
        if times:
            name, took = max(times, key=lambda t: t[1])
            text += f"; slowest: {name} ({took:.2f}s)"
        return text


def build(client: Client, argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    body = tempfile.TemporaryFile()
    remote = args.path if args.path.startswith(("http://", "https://")) else None
    if remote:
        dockerfile = args.file or "Dockerfile"  # the daemon fetches the context
    elif args.path == "-":
        dockerfile = _stdin_context(body)
        if args.file and args.file != "-":
            dockerfile = args.file
    else:
        if not os.path.isdir(args.path):
            print(f"unable to prepare context: path \"{args.path}\" not found",
                  file=sys.stderr)
            return 1
        if args.file and args.file != "-" and not os.path.exists(args.file):
            print("unable to prepare context: unable to evaluate symlinks in Dockerfile "
                  f"path: lstat {os.path.abspath(args.file)}: no such file or directory",
                  file=sys.stderr)
            return 1
        dockerfile = _context_tar(args.path, args.file, body)
    size = body.tell()
    body.seek(0)
    build_args = dict(a.split("=", 1) if "=" in a else (a, os.environ.get(a))
                      for a in args.build_arg)
    labels = dict(item.split("=", 1) if "=" in item else (item, "") for item in args.label)
    query: dict[str, Any] = {
        "t": args.tag, "dockerfile": dockerfile, "q": args.quiet or None,
        "buildargs": json.dumps(build_args) if build_args else None,
        "nocache": args.no_cache or None, "pull": args.pull or None,
        "cachefrom": json.dumps(args.cache_from) if args.cache_from else None,
        "labels": json.dumps(labels) if labels else None, "target": args.target,
        "networkmode": args.network, "extrahosts": ",".join(args.add_host) or None,
        "shmsize": _bytes(args.shm_size) if args.shm_size else None,
        "rm": args.rm, "forcerm": args.force_rm or None, "squash": args.squash or None,
        "platform": args.platform, "remote": remote,
        "cgroupparent": args.cgroup_parent, "cpuperiod": args.cpu_period,
        "cpuquota": args.cpu_quota, "cpushares": args.cpu_shares,
        "cpusetcpus": args.cpuset_cpus, "cpusetmems": args.cpuset_mems,
        "memory": args.memory, "memswap": args.memory_swap, "isolation": args.isolation}
    if args.ulimit:
        from darse.cli import run_flags

        try:
            query["ulimits"] = json.dumps([run_flags.ulimit(u) for u in args.ulimit])
        except run_flags.RunFlagError as exc:
            print(f"{exc}\nSee 'darse build --help'.", file=sys.stderr)
            return 125
    if not args.quiet:
        sys.stdout.write(f"Sending build context to Docker daemon  {_size(size)}\r\r\n")
        sys.stdout.flush()
    image_id = ""
    progress = _Progress()
    for event in client.lines("POST", "/build", query, body=body):
        if "error" in event:
            print(event["error"], file=sys.stderr)
            code = (event.get("errorDetail") or {}).get("code")
            return code if isinstance(code, int) and code > 0 else 1
        if "aux" in event:
            image_id = event["aux"].get("ID", "")
        elif "stream" in event and not args.quiet:
            progress.see(event["stream"])
            sys.stdout.write(event["stream"])
            sys.stdout.flush()
    if args.quiet:
        print(image_id)
    else:
        print(progress.summary())
    if args.iidfile:
        with open(args.iidfile, "w") as f:
            f.write(image_id)
    return 0
