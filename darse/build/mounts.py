"""RUN --mount, as BuildKit reads it, in darse's builder: type=cache (a folder kept
between builds, one per id, for apt's or pip's downloads), type=bind (a folder or file
of the context, of a stage or of an image, read-only unless rw), type=tmpfs. None of
them ends up in the step's layer. type=secret needs BuildKit's session with the client,
which POST /build does not have: it is refused.

Also RUN --network=none|host|default, BuildKit's per-step network."""

from __future__ import annotations

import contextlib
import hashlib
import os
import posixpath
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from darse.build import cache, stagecopy
from darse.build.dockerfile import Instruction
from darse.build.tarcontext import TarContext
from darse.errors import InvalidArgument
from darse.fs.root import Root
from darse.image.snapshots import chain_ids

if TYPE_CHECKING:
    from darse.build.builder import Builder, State
    from darse.build.stages import Plan

_KEYS = {"type", "target", "dst", "destination", "id", "source", "src", "from", "ro",
         "readonly", "rw", "readwrite", "sharing", "mode", "uid", "gid", "size", "required",
         "env"}


@dataclass
class Mount:
    kind: str
    target: str
    options: dict[str, str] = field(default_factory=dict)


@dataclass
class RunMounts:
    """What a RUN's container gets: Binds and Tmpfs for its HostConfig, the key part
    that makes another mount another step, and the network it asked for."""

    binds: list[str] = field(default_factory=list)
    tmpfs: dict[str, str] = field(default_factory=dict)
    key: str = ""
    network: str = ""


def parse(spec: str, workdir: str) -> Mount:
    options: dict[str, str] = {}
    for item in spec.split(","):
        key, eq, value = item.partition("=")
        key = key.strip().lower()
        if key not in _KEYS:
            raise InvalidArgument(f"unexpected key '{key}' in '{spec}'")
        options[key] = value if eq else "true"
    kind = options.get("type", "bind")
    target = options.get("target") or options.get("dst") or options.get("destination")
    if not target:
        raise InvalidArgument(f"mount {spec}: a target is needed")
    if not target.startswith("/"):
        target = posixpath.join(workdir or "/", target)
    if kind not in ("cache", "bind", "tmpfs", "secret", "ssh"):
        raise InvalidArgument(f"unsupported mount type \"{kind}\"")
    return Mount(kind, posixpath.normpath(target), options)


def prepare(builder: Builder, ins: Instruction, state: State, plan: Plan,
            built: dict[int, State], stack: contextlib.ExitStack) -> RunMounts:
    out = RunMounts()
    network = ins.flags.get("network", "")
    if network:
        if network not in ("none", "host", "default"):
            raise InvalidArgument(f"unsupported network mode \"{network}\"")
        out.network = "" if network == "default" else network
    if "security" in ins.flags:
        raise InvalidArgument("RUN --security=insecure needs an entitlement darse does not "
                              "grant")
    specs = [s for s in ins.flags.get("mount", "").split("\n") if s]
    keys = []
    for spec in specs:
        m = parse(spec, state.runtime.get("WorkingDir") or "/")
        ro = m.options.get("ro") == "true" or m.options.get("readonly") == "true"
        if m.kind in ("secret", "ssh"):
            raise InvalidArgument(f"RUN --mount=type={m.kind} needs BuildKit's session with "
                                  "the client, which POST /build has not")
        if m.kind == "tmpfs":
            out.tmpfs[m.target] = ""
        elif m.kind == "cache":
            out.binds.append(f"{_cache_dir(builder, m)}:{m.target}" + (":ro" if ro else ""))
        else:
            source, digest = _bind_source(builder, m, plan, built, stack)
            rw = m.options.get("rw") == "true" or m.options.get("readwrite") == "true"
            out.binds.append(f"{source}:{m.target}" + ("" if rw else ":ro"))
            spec = f"{spec}|{digest}"
        keys.append(spec)
    out.key = "|".join(keys) + (f"|network={network}" if network else "")
    return out


def prune_caches(data_root: str, older_than: float | None = None,
                 keep_storage: int = 0) -> tuple[list[str], int]:
    """RUN --mount=type=cache folders go, oldest first: those last used before
    older_than (all, when None), while more than keep_storage bytes are held.
    (their names, the bytes they held)."""
    import shutil

    top = os.path.join(data_root, "build-cache")
    folders = []
    for name in os.listdir(top) if os.path.isdir(top) else []:
        path = os.path.join(top, name)
        size = 0
        for where, _dirs, files in os.walk(path):
            for f in files:
                with contextlib.suppress(OSError):
                    size += os.lstat(os.path.join(where, f)).st_size
        with contextlib.suppress(OSError):
            folders.append((os.stat(path).st_mtime, name, path, size))
    held = sum(f[3] for f in folders)
    deleted, freed = [], 0
    for mtime, name, path, size in sorted(folders):
        if held <= keep_storage and keep_storage:
            break
        if older_than is not None and mtime >= older_than:
            continue
        shutil.rmtree(path, ignore_errors=True)
        deleted.append(name)
        freed += size
        held -= size
    return sorted(deleted), freed


def _cache_dir(builder: Builder, m: Mount) -> str:
    """The cache's folder, made once (mode, uid, gid as asked, else 0755 root's)."""
    ident = m.options.get("id") or m.target
    name = hashlib.sha256(ident.encode()).hexdigest()[:32]
    top = os.path.join(builder.images.root, "build-cache")
    os.makedirs(top, mode=0o700, exist_ok=True)
    path = os.path.join(top, name)
    try:
        os.mkdir(path, 0o755)
    except FileExistsError:
        return path
    try:
        os.chmod(path, int(m.options.get("mode", "755"), 8))
        os.chown(path, int(m.options.get("uid", "0")), int(m.options.get("gid", "0")))
    except ValueError:
        os.rmdir(path)
        raise InvalidArgument(f"invalid mode, uid or gid in the mount of {m.target}") from None
    return path


def _bind_source(builder: Builder, m: Mount, plan: Plan, built: dict[int, State],
                 stack: contextlib.ExitStack) -> tuple[str, str]:
    """The host path of a bind's source, resolved inside its root; and a digest of its
    content (another content, another step)."""
    src = m.options.get("source") or m.options.get("src") or "/"
    ref = m.options.get("from")
    if ref:
        stage = plan.stage(ref, len(plan.stages))
        if stage is not None:
            config = built[stage.index].config
        else:
            config = builder.images.config(builder._image(ref, None))
        chain = chain_ids((config.get("rootfs") or {}).get("diff_ids") or [])
        top = stack.enter_context(stagecopy.mounted(builder.images.snapshots, chain))
        digest = "from:" + hashlib.sha256(",".join(chain).encode()).hexdigest()
    else:
        context = builder.context
        if isinstance(context, TarContext):
            try:
                digest = cache.content_digest(context, [context.resolve(src)])
            except OSError:
                raise InvalidArgument(f"RUN --mount: {src} not found") from None
            top = context.path()
        else:
            top = context
            with Root(top) as root:
                digest = cache.content_digest(root, [root.resolve(src)])
    with Root(top) as root:
        try:
            parts = root.resolve(src)
        except OSError:
            parts = None
        if parts is None or root.lstat(parts) is None:
            raise InvalidArgument(f"RUN --mount: {src} not found")
    return os.path.join(top, *parts), digest

