"""The builder (Docker's classic one): the stages the target needs, in file order; each
RUN in a container of the image so far, its upper layer committed as a new layer; COPY
and ADD as layers made from the context or another stage; the other instructions change
the config. Every step is an image whose parent is the step before: the cache finds it
again (cache.py), and intermediate images stay, as docker keeps them."""

from __future__ import annotations

import contextlib
import copy as deep
import datetime
import json
import os
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from darse.build import cache, instructions, mounts, stagecopy
from darse.build.dockerfile import Instruction, parse
from darse.build.options import Options
from darse.build.stages import Plan, Stage, meta_arg
from darse.build.tarcontext import TarContext
from darse.errors import DarseError, InvalidArgument, NotFound
from darse.image import layer as layers
from darse.image import reference as refs
from darse.image.mediatypes import DOCKER_LAYER
from darse.image.pull import pull
from darse.image.snapshots import chain_ids

if TYPE_CHECKING:
    from darse.engine.engine import Engine

Emit = Callable[[dict[str, Any]], None]
# Mount points the runtime makes for /etc/hostname, hosts and resolv.conf: not content.
_MOUNT_POINTS = ("etc/hostname", "etc/hosts", "etc/resolv.conf")
# Build args docker accepts without an ARG, and keeps out of the history unless declared.
BUILTIN_ARGS = ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY",
                "ftp_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy")


class StepFailed(InvalidArgument):
    """A RUN whose command failed: the stream's error carries its exit code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat().replace("+00:00", "Z")


@dataclass
class State:
    """A stage as it is built: its image so far and what its instructions declared."""

    image_id: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    args: dict[str, str] = field(default_factory=dict)
    cmd_set: bool = False
    author: str = ""

    @property
    def runtime(self) -> dict[str, Any]:
        return self.config.setdefault("config", {})

    def variables(self) -> dict[str, str]:
        """What $VAR expands to: the stage's ARGs, its ENV over them."""
        env = dict(self.args)
        env.update(e.split("=", 1) for e in self.runtime.get("Env") or [] if "=" in e)
        return env


class Builder:
    def __init__(self, engine: Engine, context: TarContext | str, emit: Emit,
                 options: Options | None = None) -> None:
        self.engine, self.context, self.emit = engine, context, emit
        self.options = options or Options()
        self.images = engine.images
        self.used_args: set[str] = set()
        self.cache_from = self._cache_sources()
        self._removals: list[str] = []  # a RUN's container, removed once committed
        self._exits: list[Any] = []  # a step's layer folders, removed once committed

    def say(self, text: str) -> None:
        if not self.options.quiet:
            self.emit({"stream": text if text.endswith("\n") else text + "\n"})

    # --- the whole build -------------------------------------------------------------

    def build(self, plan: Plan) -> str:
        refs_ = [refs.parse(t) for t in self.options.tags]  # bad tags fail before any work
        total = plan.steps() + len(self.options.labels)
        step = 0
        built: dict[int, State] = {}
        for ins in plan.meta_args:
            step += 1
            self.say(f"Step {step}/{total} : {ins.original}")
            self.used_args.add(meta_arg(ins, {})[0])
        last = plan.wanted[-1]
        for stage in plan.wanted:
            step += 1
            self.say(f"Step {step}/{total} : {stage.source.original}")
            state = self._from(stage, plan, built)
            todo = list(stage.instructions)
            if stage is last:
                todo += [Instruction("LABEL", f"{_quoted(k)}={_quoted(v)}", 0,
                                     text=f"LABEL {k}={v}")
                         for k, v in sorted(self.options.labels.items())]
            for ins in todo:
                step += 1
                self.say(f"Step {step}/{total} : {ins.original}")
                self._step(ins, state, plan, built)
                if state.image_id:
                    self.say(f" ---> {state.image_id[7:19]}")
            built[stage.index] = state
        image_id = built[last.index].image_id
        if not image_id:
            raise InvalidArgument("No image was generated. Is your Dockerfile empty?")
        unused = sorted(set(self.options.build_args) - self.used_args - set(BUILTIN_ARGS))
        if unused:
            self.say(f"[Warning] One or more build-args [{' '.join(unused)}] were not "
                     "consumed")
        for ref in refs_:
            self.images.tag(image_id, str(ref))
        self.emit({"aux": {"ID": image_id}})
        if self.options.quiet:
            self.emit({"stream": image_id + "\n"})
        self.say(f"Successfully built {image_id[7:19]}")
        for ref in refs_:
            self.say(f"Successfully tagged {ref.familiar()}")
        return image_id

    def _cache_sources(self) -> list[str] | None:
        """--cache-from's images (None without the option: the local cache)."""
        if not self.options.cache_from:
            return None
        out = []
        for name in self.options.cache_from:
            try:
                out.append(self.images.resolve(name))
            except NotFound:
                pass  # as docker: a cache source that is not here is no cache
        return out

    # --- FROM --------------------------------------------------------------------------

    def _from(self, stage: Stage, plan: Plan, built: dict[int, State]) -> State:
        base = plan.stage(stage.base, stage.index) if not stage.base.isdigit() else None
        if base is not None:
            state = State(built[base.index].image_id, deep.deepcopy(built[base.index].config))
        elif stage.base == "scratch":
            state = State("", {"architecture": "amd64", "os": "linux", "config": {},
                               "rootfs": {"type": "layers", "diff_ids": []}, "history": []})
        else:
            image_id = self._image(stage.base, stage.source.flags.get("platform"))
            state = State(image_id, self.images.config(image_id))
        state.config.setdefault("history", [])
        state.author = state.config.get("author", "")
        runtime = state.runtime
        if not any(e.startswith("PATH=") for e in runtime.get("Env") or []):
            runtime["Env"] = [instructions.DEFAULT_PATH, *(runtime.get("Env") or [])]
        if state.image_id:
            self.say(f" ---> {state.image_id[7:19]}")
        triggers = list(runtime.get("OnBuild") or [])
        if triggers:
            runtime["OnBuild"] = None
            self.say(f"# Executing {len(triggers)} build trigger"
                     f"{'s' if len(triggers) > 1 else ''}")
            for text in triggers:
                for ins in parse(text):
                    self._step(ins, state, plan, built)
        return state

    def _image(self, name: str, platform: str | None) -> str:
        """An image by name: pulled if missing, or always with --pull."""
        if name.lower() == "scratch":
            raise InvalidArgument("'scratch' is a reserved name")
        if not self.options.pull:
            try:
                return self.images.resolve(name)
            except NotFound:
                pass
        ref = refs.parse(name)
        self.say(f"{ref.tag or ref.digest}: Pulling from {ref.path}")
        events: list[dict[str, Any]] = []
        image_id = pull(self.images, ref, platform or self.options.platform or None,
                        progress=events.append)
        for event in events:
            if event.get("status", "").startswith(("Digest", "Status")):
                self.say(event["status"])
        return image_id

    # --- instructions ----------------------------------------------------------------

    def _step(self, ins: Instruction, state: State, plan: Plan, built: dict[int, State]
              ) -> None:
        if ins.cmd == "ARG":
            self._arg(ins, state, plan)
        elif ins.cmd == "RUN":
            self._run(ins, state, plan, built)
        elif ins.cmd in ("COPY", "ADD"):
            stagecopy.run(self, ins, state, plan, built)
        elif ins.cmd == "WORKDIR":
            runtime = deep.deepcopy(state.runtime)
            text = instructions.apply(ins, runtime, state.variables(), state)
            self._workdir(state, runtime, text)
        else:
            runtime = deep.deepcopy(state.runtime)
            text = instructions.apply(ins, runtime, state.variables(), state)
            self.commit(state, [*instructions.shell_of(runtime), "#(nop) ", text], runtime)

    def _arg(self, ins: Instruction, state: State, plan: Plan) -> None:
        name, default = meta_arg(ins, state.variables())
        self.used_args.add(name)
        value = self.options.build_args.get(name)
        if value is None:
            value = default if default is not None else plan.meta.get(name)
        if value is not None:
            state.args[name] = value
        else:
            state.args.pop(name, None)
        text = f"ARG {name}" + (f"={default}" if default is not None else "")
        self.commit(state, [*instructions.shell_of(state.runtime), "#(nop) ", text],
                    deep.deepcopy(state.runtime))

    def run_args(self, state: State) -> list[str]:
        """The stage's ARGs a RUN sees (ENV wins over an ARG of the same name), sorted,
        as docker puts them before the command in the history."""
        env_keys = {e.split("=", 1)[0] for e in state.runtime.get("Env") or []}
        return sorted(f"{k}={v}" for k, v in state.args.items() if k not in env_keys)

    # --- committing a step -------------------------------------------------------------

    def commit(self, state: State, cmd: list[str], runtime: dict[str, Any],
               make_layer: Callable[[], str | None] | None = None, extra_key: str = "",
               movable: bool = False) -> None:
        """The step as the next image: from the cache if it is there, else with the layer
        make_layer() leaves (a snapshot folder, or None for none)."""
        created_by = " ".join(cmd)
        key = cache.key(created_by + extra_key, runtime)
        if not self.options.no_cache:
            hit = cache.lookup(self.images, state.image_id, key, created_by, self.cache_from,
                               lambda diffs, history: self._restore(state, runtime, key,
                                                                    diffs, history))
            if hit:
                self.say(" ---> Using cache")
                state.image_id = hit
                state.config = self.images.config(hit)
                return
        config = deep.deepcopy(state.config)
        config["config"] = runtime
        entry: dict[str, Any] = {"created": _now(), "created_by": created_by}
        if make_layer is not None and (upper := make_layer()) is not None:
            if not self._add_layer(config, upper, movable):
                entry["empty_layer"] = True
        else:
            entry["empty_layer"] = True
        config["history"] = [*(config.get("history") or []), entry]
        config["created"] = entry["created"]
        if state.author:
            config["author"] = state.author
        config["container_config"] = {**runtime, "Cmd": cmd, "Image": state.image_id}
        config.pop("container", None)
        self._register(state, config, key)

    def _register(self, state: State, config: dict[str, Any], key: str) -> None:
        image_id = self.images.register(json.dumps(config).encode())
        self.images.set_parent(image_id, state.image_id, key)
        state.image_id, state.config = image_id, config

    def _restore(self, state: State, runtime: dict[str, Any], key: str,
                 diff_ids: list[str], history: list[dict[str, Any]]) -> str:
        """A --cache-from image's first steps as an image of their own (docker's
        restoreCachedImage)."""
        config = deep.deepcopy(state.config)
        config["config"] = runtime
        config["rootfs"] = {"type": "layers", "diff_ids": diff_ids}
        config["history"] = history
        config["created"] = history[-1].get("created") or _now()
        before = State(state.image_id, state.config)
        self._register(before, config, key)
        return before.image_id

    def _add_layer(self, config: dict[str, Any], snapshot_dir: str, movable: bool = False
                   ) -> bool:
        """The directory as the config's next layer: packed to a blob (what push and save
        send), and kept as the snapshot, moved there if movable (a COPY's own folder, in
        overlay's form already) or unpacked from the blob. False, and no layer, when it
        holds no change (docker adds none)."""
        lowers = [self.images.snapshots.diff(c) for c in reversed(chain_ids(
            (config.get("rootfs") or {}).get("diff_ids") or []))]
        if _empty(snapshot_dir, lowers):
            return False
        images = self.images
        blob, blob_size, diff_id, size = _pack(images.content, snapshot_dir)
        rootfs = config.setdefault("rootfs", {"type": "layers", "diff_ids": []})
        diff_ids = rootfs.setdefault("diff_ids", [])
        def move_in(diff: str) -> None:
            _strip_overlay_marks(snapshot_dir)
            os.rmdir(diff)
            os.rename(snapshot_dir, diff)

        images.store_layer(diff_ids, diff_id, size, blob, blob_size, DOCKER_LAYER,
                           move_in if movable else None)
        rootfs["diff_ids"] = [*diff_ids, diff_id]
        return True

    # --- RUN ---------------------------------------------------------------------------

    def _run(self, ins: Instruction, state: State, plan: Plan, built: dict[int, State]
             ) -> None:
        if not state.image_id:
            raise InvalidArgument("RUN needs an image: FROM scratch has no shell")
        runtime = deep.deepcopy(state.runtime)
        cmd = instructions.command(ins, runtime)
        args = self.run_args(state)
        history_cmd = [f"|{len(args)}", *args, *cmd] if args else cmd
        with contextlib.ExitStack() as stack:
            extra = mounts.prepare(self, ins, state, plan, built, stack)
            try:
                self.commit(state, history_cmd, runtime,
                            lambda: self._run_container(state, cmd, args, ins, extra),
                            extra.key)
            finally:
                self.finish_step()

    def _run_container(self, state: State, cmd: list[str], args: list[str],
                       ins: Instruction, extra: mounts.RunMounts) -> str:
        runtime = state.runtime
        opts = self.options
        env = [*(runtime.get("Env") or []), *args]
        if not any(e.startswith("HOME=") for e in env):
            env.append("HOME=" + stagecopy.home_of(self.images.snapshots, self.chain(state),
                                                   runtime.get("User") or ""))
        created = self.engine.create({
            "Image": state.image_id, "Cmd": cmd, "Entrypoint": [], "Env": env,
            "User": runtime.get("User") or "", "WorkingDir": runtime.get("WorkingDir") or "",
            "HostConfig": {"NetworkMode": extra.network or opts.network_mode or "bridge",
                           "ExtraHosts": opts.extra_hosts or None,
                           "ShmSize": opts.shm_size or 0, "Binds": extra.binds or None,
                           "Tmpfs": extra.tmpfs or None, **opts.resources}})
        cid = created["Id"]
        self.say(f" ---> Running in {cid[:12]}")
        doc = self.engine.inspect(cid)
        code = self._run_streaming(cid, doc["LogPath"])
        if code != 0:
            if opts.force_rm:
                self._remove(cid)
            shown = " ".join(cmd) if ins.json is None else json.dumps(cmd)
            raise StepFailed(f"The command '{shown}' returned a non-zero code: {code}", code)
        upper = doc["GraphDriver"]["Data"]["UpperDir"]
        self._removals.append(cid)
        return upper

    def finish_step(self) -> None:
        """Containers of a committed RUN go (with --rm, docker's default)."""
        for cid in self._removals:
            if self.options.rm:
                self._remove(cid)
        self._removals.clear()

    def _remove(self, cid: str) -> None:
        try:
            self.engine.remove(cid, force=True, volumes=True)
        except DarseError:
            return
        self.say(f"Removing intermediate container {cid[:12]}")

    def _run_streaming(self, cid: str, log_path: str) -> int:
        """Start the RUN's container and pass its output on as it comes (its json log
        file, followed), as dockerd streams a step; the exit code."""
        result: dict[str, Any] = {}

        def wait() -> None:
            try:
                result.update(self.engine.wait(cid))
            except BaseException as exc:  # noqa: BLE001 - raised in the builder's thread
                result["error"] = exc

        self.engine.start(cid)
        waiter = threading.Thread(target=wait, daemon=True)
        waiter.start()
        tail = _LogTail(log_path)
        try:
            while waiter.is_alive():
                waiter.join(0.05)
                self._emit_records(tail.records())
            self._emit_records(tail.records())
        finally:
            tail.close()
        if "error" in result:
            raise result["error"]
        return result["StatusCode"]

    def _emit_records(self, records: list[dict[str, Any]]) -> None:
        for rec in records:
            text = rec.get("log", "")
            if rec.get("stream") == "stderr":
                text = f"\x1b[91m{text}\x1b[0m"  # dockerd shows a RUN's stderr in red
            if not self.options.quiet:
                self.emit({"stream": text})

    # --- WORKDIR -----------------------------------------------------------------------

    def _workdir(self, state: State, runtime: dict[str, Any], text: str) -> None:
        """As Docker: a working directory the image lacks is made (root's, 0755) in a
        layer of its own, so that `COPY file .` lands in it; one it has costs no layer."""
        path = runtime["WorkingDir"]
        shell = instructions.shell_of(runtime)

        def make() -> str | None:
            made: list[bool] = []
            change = lambda image: made.append(image.makedirs(path)[1])  # noqa: E731
            try:
                ctx = stagecopy.changed(self.images.snapshots, self.chain(state), change)
                upper = ctx.__enter__()
            except NotADirectoryError as exc:
                raise InvalidArgument(f"failed to create the working directory {path}: "
                                      f"mkdir {exc.filename}: not a directory") from None
            self._exits.append(ctx)
            return upper if made[0] else None

        self.with_layer(state, [*shell, f"#(nop) WORKDIR {path}"], runtime, make)

    def chain(self, state: State) -> list[str]:
        return chain_ids((state.config.get("rootfs") or {}).get("diff_ids") or [])

    def with_layer(self, state: State, cmd: list[str], runtime: dict[str, Any],
                   make: Callable[[], str | None], extra_key: str = "") -> None:
        """commit() with a layer from make() (a folder of changed(), which may become
        the snapshot), its folders cleaned up after."""
        try:
            self.commit(state, cmd, runtime, make, extra_key, movable=True)
        finally:
            while self._exits:
                self._exits.pop().__exit__(None, None, None)


class _LogTail:
    """A json-file log read as it grows: complete lines only."""

    def __init__(self, path: str) -> None:
        self.path, self.f, self.rest = path, None, b""

    def records(self) -> list[dict[str, Any]]:
        if self.f is None:
            try:
                self.f = open(self.path, "rb")  # noqa: SIM115 - kept open while it grows
            except FileNotFoundError:
                return []
        data = self.rest + self.f.read()
        *lines, self.rest = data.split(b"\n")
        out = []
        for line in lines:
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
        return out

    def close(self) -> None:
        if self.f is not None:
            self.f.close()


def _strip_overlay_marks(upper: str) -> None:
    """The folder as unpacking its own layer tar would leave it: the marks overlayfs
    leaves on what it copied up (origin, impure...) go, but the opaque one; a file named
    `.wh.NAME` (an archive's ADD may bring one) is the whiteout of NAME its tar holds."""
    import stat

    for top, _dirs, files in os.walk(upper):
        for name in [f for f in files if f.startswith(layers.WHITEOUT_PREFIX)]:
            path = os.path.join(top, name)
            if not stat.S_ISREG(os.lstat(path).st_mode):
                continue
            os.unlink(path)
            files.remove(name)
            if name == layers.OPAQUE:
                os.setxattr(top, "trusted.overlay.opaque", b"y")
                continue
            target = os.path.join(top, name[len(layers.WHITEOUT_PREFIX):])
            if os.path.lexists(target):
                shutil.rmtree(target) if os.path.isdir(target) and not \
                    os.path.islink(target) else os.unlink(target)
            os.mknod(target, stat.S_IFCHR | 0o600, os.makedev(0, 0))
        for name in [top, *(os.path.join(top, n) for n in files)]:
            if os.path.islink(name):
                continue
            try:
                marks = [x for x in os.listxattr(name, follow_symlinks=False)
                         if x.startswith("trusted.overlay.") and x != "trusted.overlay.opaque"]
            except OSError:
                continue
            for mark in marks:
                os.removexattr(name, mark, follow_symlinks=False)


def _pack(content: Any, diff_dir: str) -> tuple[str, int, str, int]:
    """The layer's blob: gzip at a fast level (a build's layers are packed on every
    miss; push sends them as they are), the runtime's mount points left out."""
    with content.writer() as w:
        with layers.gzip_writer(w) as gz:
            diff_id, size = layers.pack(diff_dir, gz, _MOUNT_POINTS)
        blob = w.commit()
    return blob, content.size(blob), diff_id, size


def _quoted(text: str) -> str:
    """text as one literal word of an instruction (single quotes: nothing expands)."""
    return "'" + text.replace("'", "'\\''") + "'"


def _empty(upper: str, lowers: list[str]) -> bool:
    """An upper folder that holds no change: nothing but the runtime's mount points, in
    an etc whose owner and mode are the image's (lowers, topmost first)."""
    for name in os.listdir(upper):
        if name != "etc":
            return False
        rest = set(os.listdir(os.path.join(upper, "etc")))
        if rest - {os.path.basename(m) for m in _MOUNT_POINTS}:
            return False
        mine = os.lstat(os.path.join(upper, "etc"))
        below = next((os.lstat(p) for p in (os.path.join(d, "etc") for d in lowers)
                      if os.path.lexists(p)), None)
        if below is None or (mine.st_mode, mine.st_uid, mine.st_gid) != \
                (below.st_mode, below.st_uid, below.st_gid):
            return False
    return True

