"""darse's registry (`darse registry serve`) as a subprocess on a free loopback port, with its
own root; stopped with SIGTERM after its tests."""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.image.conftest import free_port
from tests.ocilayout import Layout, tar_of_dir

REPO = str(Path(__file__).resolve().parents[2])


class DarseRegistry:
    def __init__(self, base: Path, *args: str, scheme: str = "http",
                 verify: ssl.SSLContext | bool = False) -> None:
        self.base = base
        base.mkdir(parents=True, exist_ok=True)
        self.root = base / "root"
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.url = f"{scheme}://{self.host}"
        self.log = base / "registry.log"
        env = dict(os.environ, PYTHONPATH=REPO)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "darse.cli", "registry", "serve", "--addr", self.host,
                 "--root", str(self.root), *args], stdout=log, stderr=log, env=env)
        self.verify = verify
        self.http = httpx.Client(base_url=self.url, verify=verify, timeout=30)
        deadline = time.monotonic() + 20
        while True:
            try:
                if self.http.get("/v2/").status_code in (200, 401):
                    break
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("darse registry did not start: " + self.log.read_text())
            time.sleep(0.05)

    def http_as(self, auth: tuple[str, str]) -> httpx.Client:
        return httpx.Client(base_url=self.url, verify=self.verify, timeout=30, auth=auth)

    def skopeo(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run(["skopeo", *args], capture_output=True, text=True, timeout=120)
        if check:
            assert done.returncode == 0, done.stderr
        return done

    def push_layout(self, layout: Path, name: str, tag: str = "latest", *extra: str) -> None:
        self.skopeo("copy", "--quiet", "--dest-tls-verify=false", *extra,
                    f"oci:{layout}:{tag}", f"docker://{self.host}/{name}:{tag}")

    def stop(self) -> None:
        self.http.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


@pytest.fixture
def darse_registry(tmp_path: Path) -> Iterator[DarseRegistry]:
    server = DarseRegistry(tmp_path)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def busybox_layout(busybox_rootfs: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """busybox:latest as an OCI layout (one gzip layer made from busybox-static)."""
    path = tmp_path_factory.mktemp("busybox-layout")
    Layout(path).image([tar_of_dir(busybox_rootfs)], tag="latest")
    return path


@pytest.fixture(scope="session", autouse=True)
def _tools() -> None:
    for tool in ("skopeo", "docker-registry"):
        if not shutil.which(tool):
            raise RuntimeError(f"{tool} is missing: install.sh installs it")
