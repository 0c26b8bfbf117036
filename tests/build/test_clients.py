"""The docker CLI (classic builder: DOCKER_BUILDKIT=0) and docker-py build against
darsed: their options reach the build, their parsing of the stream finds the image."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import docker as dockerpy
import pytest

from tests.build.conftest import DOCKER_CLI
from tests.daemon import Darsed


def docker_cli(d: Darsed, *args: str, cwd: str | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, DOCKER_HOST=d.host, DOCKER_BUILDKIT="0",
               DOCKER_CONFIG=str(d.base / "docker-config"))
    return subprocess.run([DOCKER_CLI, *args], capture_output=True, text=True, env=env,
                          timeout=120, cwd=cwd)


def context(tmp_path: Path) -> Path:
    ctx = tmp_path / "ctx"
    (ctx / "docker").mkdir(parents=True)
    (ctx / "app.txt").write_text("APP\n")
    (ctx / "secret.key").write_text("KEY\n")
    (ctx / ".dockerignore").write_text("*.key\n")
    (ctx / "docker/App.dockerfile").write_text(
        "FROM busybox AS base\nARG WHO=nobody\nRUN echo \"hi $WHO\" > /who\n"
        "FROM base AS final\nCOPY . /app/\nCMD [\"cat\", \"/who\"]\n"
        "FROM busybox AS other\nRUN exit 9\n")
    return ctx


@pytest.mark.skipif(DOCKER_CLI is None, reason="docker CLI not installed")
def test_docker_cli_builds_on_darsed(darsed: Darsed, tmp_path: Path) -> None:
    ctx = context(tmp_path)
    done = docker_cli(darsed, "build", "-f", "docker/App.dockerfile", "--target", "final",
                      "--build-arg", "WHO=docker", "--label", "by=docker-cli", "-t",
                      "fromcli:1", ".", cwd=str(ctx))
    assert done.returncode == 0, done.stderr
    assert "Successfully tagged fromcli:1" in done.stdout
    assert docker_cli(darsed, "run", "--rm", "fromcli:1").stdout == "hi docker\n"
    files = docker_cli(darsed, "run", "--rm", "fromcli:1", "ls", "-A", "/app").stdout.split()
    assert files == [".dockerignore", "app.txt", "docker"]  # *.key left out
    quiet = docker_cli(darsed, "build", "-q", "-f", "docker/App.dockerfile", "--target",
                       "final", "--build-arg", "WHO=docker", "--label", "by=docker-cli", ".",
                       cwd=str(ctx))
    assert quiet.returncode == 0 and quiet.stdout.startswith("sha256:")
    assert docker_cli(darsed, "image", "inspect", "-f", "{{.Id}}", "fromcli:1"
                      ).stdout.strip() == quiet.stdout.strip()  # all from the cache
    env = dict(os.environ, DOCKER_HOST=darsed.host, DOCKER_BUILDKIT="0",
               DOCKER_CONFIG=str(darsed.base / "docker-config"))
    stdin = subprocess.run([DOCKER_CLI, "build", "-q", "-"], input="FROM busybox\n"
                           "RUN echo piped > /p\n", capture_output=True, text=True, env=env,
                           timeout=120)
    assert stdin.returncode == 0 and stdin.stdout.startswith("sha256:"), stdin.stderr
    assert docker_cli(darsed, "run", "--rm", stdin.stdout.strip(), "cat", "/p"
                      ).stdout == "piped\n"
    failed = docker_cli(darsed, "build", "--force-rm", "-f", "docker/App.dockerfile", ".",
                        cwd=str(ctx))
    assert failed.returncode == 9 and "returned a non-zero code: 9" in failed.stderr
    docker_cli(darsed, "rmi", "fromcli:1")


def test_docker_py_builds_on_darsed(darsed: Darsed, tmp_path: Path) -> None:
    ctx = context(tmp_path)
    client = dockerpy.DockerClient(base_url=darsed.host, version="1.41")
    try:
        image, logs = client.images.build(
            path=str(ctx), dockerfile="docker/App.dockerfile", target="final",
            buildargs={"WHO": "py"}, labels={"by": "docker-py"}, tag="frompy:1", rm=True,
            forcerm=True, nocache=True, network_mode="none")
        assert "frompy:1" in image.tags and image.labels == {"by": "docker-py"}
        assert any("Successfully built" in entry.get("stream", "") for entry in logs)
        assert client.containers.run("frompy:1", remove=True) == b"hi py\n"
        with pytest.raises(dockerpy.errors.BuildError) as failed:
            client.images.build(path=str(ctx), dockerfile="docker/App.dockerfile",
                                forcerm=True)
        assert "returned a non-zero code: 9" in str(failed.value)
        with pytest.raises(dockerpy.errors.APIError):
            client.images.build(path=str(ctx), dockerfile="docker/App.dockerfile",
                                target="nosuch")
        client.images.remove("frompy:1")
    finally:
        client.close()
