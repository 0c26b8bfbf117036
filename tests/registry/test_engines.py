"""The docker CLI and darse push to and pull from darse's registry, through a private
darsed (loopback registries are insecure by default: plain HTTP), anonymous and with
htpasswd users."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import bcrypt
import pytest

from tests.api.conftest import darsed  # noqa: F401 - the same darsed fixture
from tests.daemon import Darsed
from tests.registry.conftest import REPO, DarseRegistry


def darse(d: Darsed, *args: str, input: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "darse.cli", "-H", d.host, *args],
                          capture_output=True, text=True, input=input, timeout=120,
                          env={"PYTHONPATH": REPO, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
                               "HOME": str(d.base)})


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DarseRegistry]:
    server = DarseRegistry(tmp_path_factory.mktemp("registry"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def auth_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DarseRegistry]:
    base = tmp_path_factory.mktemp("auth-registry")
    hashed = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=6)).decode()
    (base / "htpasswd").write_text(f"alice:{hashed}\n")
    server = DarseRegistry(base, "--htpasswd", str(base / "htpasswd"))
    yield server
    server.stop()


def _tags(registry: DarseRegistry, name: str, auth: tuple[str, str] | None = None) -> list[str]:
    return registry.http.get(f"/v2/{name}/tags/list", auth=auth).json()["tags"]


def test_docker_cli_push_pull(darsed: Darsed, registry: DarseRegistry) -> None:  # noqa: F811
    image = f"{registry.host}/docker/busybox:1"
    assert darsed.docker("tag", "busybox", image).returncode == 0
    done = darsed.docker("push", image)
    assert done.returncode == 0, done.stderr
    assert _tags(registry, "docker/busybox") == ["1"]
    head = registry.http.head("/v2/docker/busybox/manifests/1")
    assert head.status_code == 200 and head.headers["Docker-Content-Digest"].startswith("sha256:")
    image_id = darsed.docker("inspect", "-f", "{{.Id}}", image).stdout.strip()
    # The image leaves darsed whole (busybox too), so the pull downloads every layer.
    assert darsed.docker("rmi", "-f", image_id).returncode == 0
    done = darsed.docker("pull", image)
    assert done.returncode == 0, done.stderr
    assert "Pull complete" in done.stdout
    assert f"Status: Downloaded newer image for {image}" in done.stdout
    assert darsed.docker("inspect", "-f", "{{.Id}}", image).stdout.strip() == image_id
    assert darsed.docker("tag", image, "busybox").returncode == 0
    done = darsed.docker("pull", f"{registry.host}/docker/busybox:nope")
    assert done.returncode != 0 and "manifest unknown" in done.stderr


def test_darse_push_pull(darsed: Darsed, registry: DarseRegistry) -> None:  # noqa: F811
    image = f"{registry.host}/darse/busybox:2"
    assert darse(darsed, "tag", "busybox", image).returncode == 0
    done = darse(darsed, "push", image)
    assert done.returncode == 0, done.stderr
    assert _tags(registry, "darse/busybox") == ["2"]
    image_id = darse(darsed, "inspect", "-f", "{{.Id}}", image).stdout.strip()
    assert darse(darsed, "rmi", "-f", image_id).returncode == 0
    done = darse(darsed, "pull", image)
    assert done.returncode == 0, done.stderr
    assert "Pull complete" in done.stdout
    assert darse(darsed, "tag", image, "busybox").returncode == 0
    assert darse(darsed, "inspect", "-f", "{{.Id}}", image).stdout.strip() == image_id
    # A second repository: the layers are mounted, no blob is stored twice.
    blobs = sorted((registry.root / "blobs" / "sha256").iterdir())
    assert darse(darsed, "tag", "busybox", f"{registry.host}/darse/copy:2").returncode == 0
    done = darse(darsed, "push", f"{registry.host}/darse/copy:2")
    assert done.returncode == 0, done.stderr
    assert sorted((registry.root / "blobs" / "sha256").iterdir()) == blobs


def test_docker_login_push_pull(darsed: Darsed, auth_registry: DarseRegistry) -> None:  # noqa: F811
    host = auth_registry.host
    image = f"{host}/private/busybox:1"
    assert darsed.docker("tag", "busybox", image).returncode == 0
    done = darsed.docker("push", image)
    assert done.returncode != 0, done.stdout
    assert "unauthorized" in done.stderr.lower() or "denied" in done.stderr.lower(), done.stderr
    done = darsed.docker("login", "-u", "alice", "--password-stdin", host, input="wrong\n")
    assert done.returncode != 0 and "unauthorized" in done.stderr.lower(), done.stderr
    done = darsed.docker("login", "-u", "alice", "--password-stdin", host, input="s3cret\n")
    assert done.returncode == 0 and "Login Succeeded" in done.stdout, done.stderr
    done = darsed.docker("push", image)
    assert done.returncode == 0, done.stderr
    assert _tags(auth_registry, "private/busybox", ("alice", "s3cret")) == ["1"]
    assert darsed.docker("rmi", image).returncode == 0
    done = darsed.docker("pull", image)
    assert done.returncode == 0, done.stderr
    assert darsed.docker("logout", host).returncode == 0
    assert darsed.docker("rmi", image).returncode == 0
    done = darsed.docker("pull", image)
    assert done.returncode != 0, done.stdout


def test_skopeo_with_credentials(auth_registry: DarseRegistry, busybox_layout: Path,
                                 tmp_path: Path) -> None:
    ref = f"docker://{auth_registry.host}/skopeo/busybox:latest"
    done = auth_registry.skopeo("copy", "--quiet", "--dest-tls-verify=false",
                                f"oci:{busybox_layout}:latest", ref, check=False)
    # Its first request is a HEAD: a 401 without a body, which skopeo words as "denied".
    assert done.returncode != 0 and "denied" in done.stderr, done.stderr
    auth_registry.skopeo("copy", "--quiet", "--dest-tls-verify=false",
                         "--dest-creds", "alice:s3cret", f"oci:{busybox_layout}:latest", ref)
    auth_registry.skopeo("copy", "--quiet", "--src-tls-verify=false",
                         "--src-creds", "alice:s3cret", ref, f"oci:{tmp_path / 'out'}:latest")
    assert (tmp_path / "out" / "index.json").exists()


def test_darse_login_push_pull(darsed: Darsed, auth_registry: DarseRegistry) -> None:  # noqa: F811
    host = auth_registry.host
    image = f"{host}/private/darse:1"
    assert darse(darsed, "tag", "busybox", image).returncode == 0
    assert darse(darsed, "push", image).returncode != 0
    done = darse(darsed, "login", "-u", "alice", "--password-stdin", host, input="s3cret\n")
    assert done.returncode == 0 and "Login Succeeded" in done.stdout, done.stderr
    done = darse(darsed, "push", image)
    assert done.returncode == 0, done.stderr
    image_id = darse(darsed, "inspect", "-f", "{{.Id}}", image).stdout.strip()
    assert darse(darsed, "rmi", "-f", image_id).returncode == 0
    done = darse(darsed, "pull", image)
    assert done.returncode == 0 and "Pull complete" in done.stdout, done.stderr
    assert darse(darsed, "tag", image, "busybox").returncode == 0
    assert darse(darsed, "logout", host).returncode == 0
