"""The same Dockerfile built by darse and by docker's classic builder, and what a user
can compare of the two images: the config, the history, the layers, the files (paths,
types, modes, owners, sizes, link targets) of the exported root filesystem."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

from tests.build.conftest import Dockerd
from tests.daemon import Darsed

# What each runtime adds to every container's root: not the image's.
_RUNTIME = re.compile(r"^(\.dockerenv|dev(/.*)?|proc(/.*)?|sys(/.*)?|etc/(hostname|hosts|"
                      r"resolv\.conf|mtab))$")
_DIGEST = re.compile(r"(file|dir|multi):[0-9a-f]{64}")


def darse_cli(d: Darsed, *args: str, input: bytes | None = None, cwd: str | None = None
              ) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]),
               DARSE_CONFIG=str(d.base / "darse-config"))
    return subprocess.run([sys.executable, "-m", "darse.cli", "-H", d.host, *args],
                          capture_output=True, input=input, timeout=120, env=env, cwd=cwd)


class Engine:
    """darse or docker behind one face."""

    def __init__(self, name: str, target: Darsed | Dockerd) -> None:
        self.name, self.target = name, target

    def run(self, *args: str, input: bytes | None = None, cwd: str | None = None
            ) -> subprocess.CompletedProcess:
        if self.name == "docker":
            return self.target.run(*args, input=input, cwd=cwd)
        return darse_cli(self.target, *args, input=input, cwd=cwd)

    def ok(self, *args: str, input: bytes | None = None, cwd: str | None = None) -> str:
        done = self.run(*args, input=input, cwd=cwd)
        assert done.returncode == 0, (self.name, args, done.stderr.decode(errors="replace"))
        return done.stdout.decode(errors="replace")

    def build(self, ctx: Path, *args: str) -> str:
        """The built image's id (-q)."""
        return self.ok("build", "-q", *args, str(ctx)).strip().splitlines()[-1]

    def inspect(self, image: str) -> dict[str, Any]:
        return json.loads(self.ok("image", "inspect", image))[0]

    def history(self, image: str) -> list[str]:
        out = self.ok("history", "--no-trunc", "--format", "{{.CreatedBy}}", image)
        return [_DIGEST.sub(r"\1:H", line) for line in out.splitlines()]

    def files(self, image: str) -> dict[str, tuple]:
        cid = self.ok("create", image, "x").strip()
        try:
            data = self.run("export", cid).stdout
        finally:
            self.run("rm", "-f", cid)
        out = {}
        with tarfile.open(fileobj=io.BytesIO(data)) as tf:
            for ti in tf:
                name = ti.name.strip("/").removeprefix("./")
                if not name or _RUNTIME.match(name):
                    continue
                out[name] = (ti.type, oct(ti.mode & 0o7777), ti.uid, ti.gid,
                             ti.size if ti.isreg() else 0, ti.linkname)
        return out

    def rmi(self, *images: str) -> None:
        self.run("rmi", "-f", *images)


CONFIG_KEYS = ("Env", "Cmd", "Entrypoint", "WorkingDir", "User", "Labels", "ExposedPorts",
               "Volumes", "Healthcheck", "Shell", "OnBuild", "StopSignal")


def comparable(engine: Engine, image: str) -> dict[str, Any]:
    doc = engine.inspect(image)
    config = doc["Config"] or {}
    return {"config": {k: config.get(k) or None for k in CONFIG_KEYS},
            "layers": len(doc["RootFS"]["Layers"]), "history": engine.history(image),
            "author": doc.get("Author") or ""}


def same_image(darse: Engine, docker: Engine | None, ctx: Path, *args: str,
               files: bool = True) -> dict[str, Any]:
    """Builds ctx with both; asserts the images agree; darse's view of its image."""
    mine = darse.build(ctx, *args)
    result = comparable(darse, mine)
    result["id"] = mine
    result["files"] = darse.files(mine) if files else {}
    if docker is not None:
        theirs = docker.build(ctx, *args)
        expected = comparable(docker, theirs)
        for key in ("config", "layers", "history", "author"):
            assert result[key] == expected[key], (key, result[key], expected[key])
        if files:
            want = docker.files(theirs)
            diff = {k: (result["files"].get(k), want.get(k))
                    for k in set(want) | set(result["files"])
                    if result["files"].get(k) != want.get(k)}
            assert not diff, sorted(diff.items())[:20]
        docker.rmi(theirs)
    return result
