"""Fixtures shared by the whole suite: root check, the busybox root filesystem."""

from __future__ import annotations

import os

import pytest

from darse.image import busybox


def pytest_configure(config: pytest.Config) -> None:
    if os.geteuid() != 0:
        raise pytest.UsageError("darse's tests run real containers: run them as root")


@pytest.fixture(scope="session")
def busybox_rootfs(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A busybox root filesystem, from Debian's busybox-static, shared read-only."""
    path = tmp_path_factory.mktemp("busybox") / "rootfs"
    busybox.make_rootfs(str(path))
    return str(path)
