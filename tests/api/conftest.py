from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.daemon import DOCKER, Darsed, leftover_mounts, new_daemon


@pytest.fixture(scope="module")
def darsed(busybox_rootfs: str) -> Iterator[Darsed]:
    d = new_daemon()
    d.start()
    d.import_busybox(busybox_rootfs)
    yield d
    alive = d.proc is not None and d.proc.poll() is None
    log = (d.base / "darsed.log").read_text(errors="replace")[-3000:]
    d.stop()
    # Kept for whoever looks at a failed run: the daemon's and the shim's logs.
    keep = Path("/tmp/darse-test-logs") / d.base.name
    keep.mkdir(parents=True, exist_ok=True)
    for name in ("darsed.log", "exec/shim.log"):
        if (d.base / name).exists():
            shutil.copy(d.base / name, keep / name.replace("/", "-"))
    assert leftover_mounts(str(d.base)) == []
    shutil.rmtree(d.base, ignore_errors=True)
    assert alive, f"darsed died during the module:\n{log}"


@pytest.fixture
def docker(darsed: Darsed) -> Darsed:
    if DOCKER is None:
        raise RuntimeError("the docker CLI is missing: install.sh installs docker.io")
    return darsed
