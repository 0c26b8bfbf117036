"""Build tests: a darsed of the module's own, and a private dockerd (Debian's docker.io,
its classic builder) to build the same Dockerfiles with, when it is installed."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.conftest import darsed  # noqa: F401 - the module's darsed

DOCKERD = shutil.which("dockerd")
DOCKER_CLI = next((p for p in ("/usr/local/bin/docker", "/usr/bin/docker")
                   if os.path.exists(p)), None)


class Dockerd:
    """A dockerd of the tests' own: data root, exec root, socket; no bridge, no
    iptables. Its classic builder (DOCKER_BUILDKIT=0) is the reference."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.sock = base / "docker.sock"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        log = open(self.base / "dockerd.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [DOCKERD, "--data-root", str(self.base / "data"), "--exec-root",
             str(self.base / "exec"), "-H", f"unix://{self.sock}", "--pidfile",
             str(self.base / "dockerd.pid"), "--bridge=none", "--iptables=false",
             "--ip-masq=false"], stdout=log, stderr=log, start_new_session=True)
        for _ in range(150):
            if self.sock.exists() and self.run("info").returncode == 0:
                return
            time.sleep(0.2)
        raise RuntimeError("the private dockerd did not start")

    def run(self, *args: str, input: bytes | None = None, cwd: str | None = None
            ) -> subprocess.CompletedProcess:
        env = dict(os.environ, DOCKER_HOST=f"unix://{self.sock}", DOCKER_BUILDKIT="0",
                   DOCKER_CONFIG=str(self.base / "cli"))
        return subprocess.run([DOCKER_CLI, *args], capture_output=True, input=input,
                              env=env, timeout=120, cwd=cwd)

    def ok(self, *args: str, input: bytes | None = None) -> str:
        done = self.run(*args, input=input)
        assert done.returncode == 0, f"docker {' '.join(args)}: {done.stderr.decode()}"
        return done.stdout.decode()

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        subprocess.run(["umount", "-R", "-l", str(self.base / "exec")], capture_output=True)
        subprocess.run(["umount", "-R", "-l", str(self.base / "data")], capture_output=True)
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture(scope="session")
def dockerd(busybox_rootfs: str) -> Iterator[Dockerd | None]:
    """None when docker.io is not installed: the tests then check darse alone."""
    if DOCKERD is None or DOCKER_CLI is None:
        yield None
        return
    d = Dockerd(Path(tempfile.mkdtemp(prefix="darse-test-dockerd-")))
    try:
        d.start()
        tar = d.base / "busybox.tar"
        with tarfile.open(tar, "w") as tf:
            tf.add(busybox_rootfs, arcname=".")
        d.ok("import", "--change", "CMD [\"sh\"]", str(tar), "busybox:latest")
        yield d
    finally:
        d.stop()


# The loopback registry of the image tests, for --pull and FROM a registry's image.
from tests.image.conftest import busybox_in_registry, registry  # noqa: E402, F401
