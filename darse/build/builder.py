"""The builder (Docker's classic one): each RUN in a container of the image so far, its
upper layer committed as a new layer; COPY and ADD as layers made from the context;
the other instructions change the config. Intermediate images go when the build ends."""

from __future__ import annotations

import datetime
import json
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from darse.build import copy
from darse.build.dockerfile import Instruction, parse, substitute
from darse.errors import DarseError, InvalidArgument, NotFound
from darse.image import changes as config_changes
from darse.image import layer as layers
from darse.image import reference as refs
from darse.image.pull import pull
from darse.image.snapshots import chain_ids

if TYPE_CHECKING:
    from darse.engine.engine import Engine

Emit = Callable[[dict[str, Any]], None]
# Mount points the runtime makes for /etc/hostname, hosts and resolv.conf: not content.
_MOUNT_POINTS = ("etc/hostname", "etc/hosts", "etc/resolv.conf")


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat().replace("+00:00", "Z")


class Builder:
    def __init__(self, engine: Engine, context: str, emit: Emit,
                 build_args: dict[str, str] | None = None) -> None:
        self.engine, self.context, self.emit = engine, context, emit
        self.build_args = dict(build_args or {})
        self.intermediate: list[str] = []
        self.config: dict[str, Any] = {}
        self.image_id = ""

    def say(self, text: str) -> None:
        self.emit({"stream": text if text.endswith("\n") else text + "\n"})

    # --- the whole build -------------------------------------------------------------

    def build(self, dockerfile: str, tags: list[str]) -> str:
        refs_ = [refs.parse(t) for t in tags]  # bad tags fail before any work
        steps = parse(dockerfile)
        args: dict[str, str] = {}
        try:
            for n, ins in enumerate(steps, 1):
                self.say(f"Step {n}/{len(steps)} : {ins.original}")
                env = {**args, **self._env()}
                self._step(ins, env, args)
                if self.image_id:
                    self.say(f" ---> {self.image_id[7:19]}")
            if not self.image_id:
                raise InvalidArgument("no image was built")
            for ref in refs_:
                self.engine.images.tag(self.image_id, str(ref))
            self.say(f"Successfully built {self.image_id[7:19]}")
            for ref in refs_:
                self.say(f"Successfully tagged {ref.familiar()}")
            self.emit({"aux": {"ID": self.image_id}})
        except BaseException:
            self.image_id = ""
            self._cleanup(failed=True)
            raise
        self._cleanup(failed=False)
        return self.image_id

    def _cleanup(self, failed: bool) -> None:
        """Intermediate images go; after a failure, the layers only they had go too."""
        for image_id in self.intermediate:
            if image_id != self.image_id:
                try:
                    self.engine.images.remove(image_id, force=True, prune=False)
                except DarseError:
                    pass
        if failed and self.intermediate:
            self.engine.images.gc()

    def _env(self) -> dict[str, str]:
        return dict(e.split("=", 1) for e in (self.config.get("config") or {}).get("Env")
                    or [] if "=" in e)

    # --- instructions ----------------------------------------------------------------

    def _step(self, ins: Instruction, env: dict[str, str], args: dict[str, str]) -> None:
        if ins.cmd == "FROM":
            self._from(substitute(ins.rest, env).split()[0])
        elif ins.cmd == "ARG":
            name, _, default = ins.rest.partition("=")
            args[name] = self.build_args.get(name, default)
        elif ins.cmd == "RUN":
            self._run(ins, env)
        elif ins.cmd in ("COPY", "ADD"):
            self._copy(ins, env)
        elif ins.cmd == "MAINTAINER":
            self.config["author"] = ins.rest
            self._commit_config(ins)
        elif ins.cmd in ("HEALTHCHECK", "SHELL"):
            raise InvalidArgument(f"{ins.cmd} is not supported by darse's builder yet")
        else:
            text = ins.rest if ins.cmd in ("CMD", "ENTRYPOINT") and ins.json is not None \
                else substitute(ins.rest, env)
            if ins.cmd == "WORKDIR" and not text.startswith("/"):
                text = os.path.join((self.config.get("config") or {}).get("WorkingDir") or "/",
                                    text)
            config_changes.apply(self.config, f"{ins.cmd} {text}")
            if ins.cmd == "WORKDIR":
                self._workdir(ins, self.config["config"]["WorkingDir"])
            else:
                self._commit_config(ins)

    def _from(self, name: str) -> None:
        images = self.engine.images
        if name == "scratch":
            self.config = {"architecture": "amd64", "os": "linux", "config": {},
                           "rootfs": {"type": "layers", "diff_ids": []}, "history": []}
            self.image_id = ""
            return
        try:
            image_id = images.resolve(name)
        except NotFound:
            self.say(f"Pulling {name}")
            image_id = pull(images, refs.parse(name), progress=lambda e: None)
        self.image_id = image_id
        self.config = images.config(image_id)
        self.config.setdefault("config", {})
        self.config.setdefault("history", [])

    def _register(self) -> None:
        self.config["created"] = _now()
        self.config.pop("container", None)
        self.image_id = self.engine.images.register(json.dumps(self.config).encode())
        self.intermediate.append(self.image_id)

    def _commit_config(self, ins: Instruction) -> None:
        self.config.setdefault("history", []).append(
            {"created": _now(), "created_by": f"/bin/sh -c #(nop)  {ins.original}",
             "empty_layer": True})
        self._register()

    def _add_layer(self, snapshot_dir: str, created_by: str) -> None:
        """The directory as the next layer: packed to a blob, unpacked as a snapshot."""
        images = self.engine.images
        blob, blob_size, diff_id, size = layers.pack_to_blob(images.content, snapshot_dir,
                                                             _MOUNT_POINTS)
        diff_ids = self.config.setdefault("rootfs", {"type": "layers", "diff_ids": []})
        diff_ids = diff_ids.setdefault("diff_ids", [])
        chain = chain_ids([*diff_ids, diff_id])
        if not images.has_layer(chain[-1]):
            tmp = images.snapshots.prepare()
            try:
                with images.content.open(blob) as f:
                    layers.unpack(f, os.path.join(tmp, "diff"))
                images.snapshots.commit(tmp, chain[-1])
            except BaseException:
                images.snapshots.discard(tmp)
                raise
            images.add_layer(chain[-1], diff_id, chain[-2] if len(chain) > 1 else "", size,
                             blob, blob_size, "application/vnd.docker.image.rootfs.diff.tar.gzip")
        diff_ids.append(diff_id)
        self.config["history"].append({"created": _now(), "created_by": created_by})
        self._register()

    def _run(self, ins: Instruction, env: dict[str, str]) -> None:
        if not self.image_id:
            raise InvalidArgument("RUN needs an image: FROM scratch has no shell")
        cmd = ins.json or ["/bin/sh", "-c", ins.rest]  # the shell expands variables
        cfg = self.config.get("config") or {}
        run_env = [f"{k}={v}" for k, v in env.items()]
        created = self.engine.create({
            "Image": self.image_id, "Cmd": cmd, "Entrypoint": [], "Env": run_env,
            "User": cfg.get("User") or "", "WorkingDir": cfg.get("WorkingDir") or "",
            "HostConfig": {"NetworkMode": "bridge"}})
        cid = created["Id"]
        self.say(f" ---> Running in {cid[:12]}")
        try:
            doc = self.engine.inspect(cid)
            self.engine.start(cid)
            code = self.engine.wait(cid)["StatusCode"]
            self._stream_logs(doc["LogPath"])
            if code != 0:
                raise InvalidArgument(f"The command '{' '.join(cmd)}' returned a non-zero "
                                      f"code: {code}")
            upper = doc["GraphDriver"]["Data"]["UpperDir"]
            self._add_layer(upper, f"/bin/sh -c {ins.rest}" if ins.json is None
                            else json.dumps(cmd))
        finally:
            self.engine.remove(cid, force=True, volumes=True)
            self.say(f"Removing intermediate container {cid[:12]}")

    def _stream_logs(self, path: str) -> None:
        from darse.engine import logs

        for rec in logs.read(path):
            self.emit({"stream": rec["log"]})

    def _copy(self, ins: Instruction, env: dict[str, str]) -> None:
        words = ins.json or substitute(ins.rest, env).split()
        if len(words) < 2:
            raise InvalidArgument(f"{ins.cmd} requires at least two arguments")
        *sources, dest = words
        cfg = self.config.get("config") or {}
        if not dest.startswith("/"):
            dest = os.path.join(cfg.get("WorkingDir") or "/", dest)
        owner = (0, 0)
        if "chown" in ins.flags:
            user, _, group = ins.flags["chown"].partition(":")
            owner = (int(user), int(group or user))
        change = copy.copy(self.context, copy.Copy(ins.cmd, sources, dest, owner))
        with copy.changed(self.engine.images.snapshots, self._chain(), change) as upper:
            self._add_layer(upper, f"/bin/sh -c #(nop) {ins.original}")

    def _chain(self) -> list[str]:
        return chain_ids((self.config.get("rootfs") or {}).get("diff_ids") or [])

    def _workdir(self, ins: Instruction, path: str) -> None:
        """As Docker: a working directory the image lacks is made (root's, 0755) in a
        layer of its own, so that `COPY file .` lands in it; one it has costs no layer."""
        made: list[bool] = []
        change = lambda image: made.append(image.makedirs(path)[1])  # noqa: E731
        try:
            with copy.changed(self.engine.images.snapshots, self._chain(), change) as upper:
                if made[0]:
                    self._add_layer(upper, f"/bin/sh -c #(nop) WORKDIR {path}")
                    return
        except NotADirectoryError as exc:
            raise InvalidArgument(f"failed to create the working directory {path}: mkdir "
                                  f"{exc.filename}: not a directory") from None
        self._commit_config(ins)
