"""docker-py 7 as a client of darsed (it asks for /v1.41/... paths)."""

from __future__ import annotations

import docker as dockerpy
import pytest

from tests.daemon import Darsed


@pytest.fixture
def client(darsed: Darsed):  # noqa: ANN201
    c = dockerpy.DockerClient(base_url=darsed.host, version="1.41")
    yield c
    c.close()


def test_lifecycle(client) -> None:  # noqa: ANN001
    assert client.ping()
    c = client.containers.run("busybox", ["sh", "-c", "echo hi; sleep 100"], detach=True,
                              name="py1")
    c.reload()
    assert c.status == "running" and c.name == "py1"
    code, out = c.exec_run(["sh", "-c", "echo from exec; exit 2"])
    assert (code, out) == (2, b"from exec\n")
    c.stop(timeout=1)
    assert c.wait()["StatusCode"] == 137
    assert c.logs() == b"hi\n"
    c.remove()
    assert client.containers.list(all=True) == []


def test_run_foreground_returns_output(client) -> None:  # noqa: ANN001
    out = client.containers.run("busybox", ["echo", "hello"], remove=True)
    assert out == b"hello\n"
    with pytest.raises(dockerpy.errors.ContainerError):
        client.containers.run("busybox", ["sh", "-c", "exit 3"], remove=True)


def test_images(client) -> None:  # noqa: ANN001
    tags = [t for i in client.images.list() for t in i.tags]
    assert "busybox:latest" in tags
    with pytest.raises(dockerpy.errors.ImageNotFound):
        client.images.get("nosuch:latest")
