"""A real registry (Debian's docker-registry, the CNCF distribution server) on a free
loopback port, and an image store on the test's own data root."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from darse.image.store import ImageStore
from tests.ocilayout import Layout, tar_of_dir


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RegistryServer:
    def __init__(self, base: Path, auth: str | None = None) -> None:
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.storage = base / "storage"
        config = base / "config.yml"
        config.write_text(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
            f"storage:\n  filesystem:\n    rootdirectory: {self.storage}\n"
            "  delete:\n    enabled: true\n"
            f"http:\n  addr: 127.0.0.1:{self.port}\n" +
            (f"auth:\n  htpasswd:\n    realm: darse-test\n    path: {auth}\n" if auth else ""))
        self.proc = subprocess.Popen(["docker-registry", "serve", str(config)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"http://{self.host}/v2/").status_code in (200, 401):
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("docker-registry did not start")
            time.sleep(0.05)

    def push_layout(self, layout: Path, name: str, tag: str = "latest",
                    all_platforms: bool = False) -> None:
        """skopeo copy oci:LAYOUT:TAG docker://127.0.0.1:PORT/NAME:TAG"""
        cmd = ["skopeo", "copy", "--quiet", "--dest-tls-verify=false"]
        if all_platforms:
            cmd.append("--all")
        subprocess.run([*cmd, f"oci:{layout}:{tag}", f"docker://{self.host}/{name}:{tag}"],
                       check=True, capture_output=True)

    def blob_path(self, digest: str) -> Path:
        hexd = digest.split(":")[1]
        return self.storage / "docker/registry/v2/blobs/sha256" / hexd[:2] / hexd / "data"

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    if not shutil.which("docker-registry"):
        raise RuntimeError("docker-registry is missing: install.sh installs it")
    server = RegistryServer(tmp_path_factory.mktemp("registry"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def busybox_in_registry(registry: RegistryServer, busybox_rootfs: str,
                        tmp_path_factory: pytest.TempPathFactory) -> str:
    """busybox:latest (one layer, from busybox-static) pushed by skopeo; its reference."""
    path = tmp_path_factory.mktemp("busybox-layout")
    layout = Layout(path)
    layout.image([tar_of_dir(busybox_rootfs)], tag="latest")
    registry.push_layout(path, "library/busybox")
    return f"{registry.host}/library/busybox:latest"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ImageStore]:
    s = ImageStore(str(tmp_path / "data"))
    yield s
    os.sync()


@pytest.fixture(scope="module")
def auth_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """A registry behind basic auth (htpasswd, bcrypt): user 'darse', password 's3cret'."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import crypt  # deprecated, but it makes bcrypt here without another package
    base = tmp_path_factory.mktemp("auth-registry")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hashed = crypt.crypt("s3cret", crypt.mksalt(crypt.METHOD_BLOWFISH))
    (base / "htpasswd").write_text(f"darse:{hashed}\n")
    server = RegistryServer(base, auth=str(base / "htpasswd"))
    yield server
    server.stop()
