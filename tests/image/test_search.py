"""docker search through darsed with the docker CLI and darse's: a registry's v1 search
endpoint (a CNCF distribution server has none: dockerd's error), and the refusals of
limits and filters in dockerd's words."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from tests.cli.test_cli import darse
from tests.daemon import Darsed, new_daemon
from tests.image.conftest import RegistryServer


@pytest.fixture(scope="module")
def daemon(busybox_rootfs: str) -> Iterator[Darsed]:
    d = new_daemon()
    try:
        d.start()
        yield d
    finally:
        d.stop()
        shutil.rmtree(d.base, ignore_errors=True)


def both(d: Darsed, *args: str) -> list[tuple[int, str, str]]:
    out = []
    for done in (d.docker(*args), darse(d, *args)):
        out.append((done.returncode, done.stdout, done.stderr))
    return out


def test_search_a_registry_without_an_index(daemon: Darsed, registry: RegistryServer) -> None:
    for result in both(daemon, "search", f"{registry.host}/busybox"):
        assert result == (1, "", "Error response from daemon: Unexpected status code 404\n")


@pytest.mark.parametrize("flags,message", [
    (["--limit", "0"], "Limit 0 is outside the range of [1, 100]"),
    (["--limit", "101"], "Limit 101 is outside the range of [1, 100]"),
    (["--filter", "foo=bar"], "Invalid filter 'foo'"),
    (["--filter", "stars=x"], "Invalid filter 'stars=x'"),
    (["--filter", "is-official=maybe"], "Invalid filter 'is-official=[maybe]'"),
    (["--filter", "is-automated=x"], "Invalid filter 'is-automated=[x]'"),
])
def test_search_refusals(daemon: Darsed, flags: list[str], message: str) -> None:
    for result in both(daemon, "search", *flags, "busybox"):
        assert result == (1, "", f"Error response from daemon: {message}\n")
