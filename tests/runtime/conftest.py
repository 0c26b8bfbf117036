"""A darse-runtime of the test's own: its own --root, ids, cgroups; all gone afterwards."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from darse.runtime import spec

RUNTIME = os.path.join(os.path.dirname(sys.executable), "darse-runtime")
# That entry point imports darse from the venv, a copy install.sh made: the checkout under
# test must come first, or these tests would test whatever was installed last.
_CHECKOUT = str(Path(__file__).resolve().parents[2])
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (_CHECKOUT, os.environ.get("PYTHONPATH")) if p)


class Runtime:
    """darse-runtime driven as runc's callers drive it: one command per call."""

    def __init__(self, root: Path, base: Path, rootfs: str) -> None:
        self.root = root
        self.base = base
        self.rootfs = rootfs
        self.prefix = f"t{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._n = 0

    def new_id(self) -> str:
        self._n += 1
        return f"{self.prefix}-{self._n}"

    def bundle(self, args: list[str], **changes: Any) -> Path:
        """A bundle on the shared busybox rootfs (read-only root) with spec changes:
        top-level keys replace, process_* and linux_* keys go into those objects."""
        config = copy.deepcopy(spec.default())
        config["root"] = {"path": self.rootfs, "readonly": True}
        config["process"]["args"] = args
        config["process"]["terminal"] = False
        for key, value in changes.items():
            if key.startswith("process_"):
                config["process"][key[len("process_"):]] = value
            elif key.startswith("linux_"):
                config["linux"][key[len("linux_"):]] = value
            else:
                config[key] = value
        self._n += 1
        path = self.base / f"bundle{self._n}"
        path.mkdir()
        (path / "config.json").write_text(json.dumps(config))
        return path

    def __call__(self, *args: str, check: bool = True, input: str | None = None,
                 timeout: float = 60) -> subprocess.CompletedProcess:
        # Files, not pipes: a detached container's init keeps the stdio it inherits, and
        # a pipe would never reach end-of-file while it runs (so it is with runc).
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            code = subprocess.run([RUNTIME, "--root", str(self.root), *args], stdout=out,
                                  stderr=err, text=True, input=input, timeout=timeout).returncode
            out.seek(0)
            err.seek(0)
            done = subprocess.CompletedProcess(args, code, out.read(), err.read())
        if check and done.returncode != 0:
            raise AssertionError(f"darse-runtime {' '.join(args)} failed "
                                 f"({done.returncode}): {done.stderr}")
        return done

    def run(self, args: list[str], **changes: Any) -> subprocess.CompletedProcess:
        """`run` in the foreground; the result carries the container's exit code."""
        bundle = self.bundle(args, **changes)
        return self("run", "--bundle", str(bundle), self.new_id(), check=False)

    def state(self, cid: str) -> dict[str, Any]:
        return json.loads(self("state", cid).stdout)

    def start_detached(self, args: list[str], **changes: Any) -> str:
        cid = self.new_id()
        self("run", "-d", "--bundle", str(self.bundle(args, **changes)), cid)
        return cid

    def cgroup_dirs(self) -> list[str]:
        found = []
        for base in ("/sys/fs/cgroup", "/sys/fs/cgroup/memory", "/sys/fs/cgroup/pids",
                     "/sys/fs/cgroup/unified"):
            d = os.path.join(base, "darse")
            if os.path.isdir(d):
                found += [n for n in os.listdir(d) if n.startswith(self.prefix)]
        return found


@pytest.fixture
def runtime(tmp_path: Path, busybox_rootfs: str) -> Iterator[Runtime]:
    rt = Runtime(tmp_path / "state", tmp_path, busybox_rootfs)
    yield rt
    leftovers = [n for n in (os.listdir(rt.root) if rt.root.exists() else [])]
    for cid in leftovers:
        rt("delete", "--force", cid, check=False)
    assert not rt.cgroup_dirs(), "cgroups left behind"
    assert not leftovers, f"containers left behind by the test: {leftovers}"
