from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from tests.daemon import DOCKER, Darsed, leftover_mounts, new_daemon


@pytest.fixture(scope="module")
def darsed(busybox_rootfs: str) -> Iterator[Darsed]:
    d = new_daemon()
    d.start()
    d.import_busybox(busybox_rootfs)
    yield d
    d.stop()
    assert leftover_mounts(str(d.base)) == []
    shutil.rmtree(d.base, ignore_errors=True)


@pytest.fixture
def docker(darsed: Darsed) -> Darsed:
    if DOCKER is None:
        raise RuntimeError("the docker CLI is missing: install.sh installs docker.io")
    return darsed
