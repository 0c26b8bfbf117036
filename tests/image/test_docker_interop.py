"""Archives both ways with a real, private dockerd (Debian's docker.io, own data root,
no bridge, no iptables): `docker save` loads in darse under the same image id, and
`docker load` accepts what darse saves."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator

import pytest

from darse.image import archive
from darse.image.importer import import_image
from darse.image.store import ImageStore
from tests.ocilayout import tar_of_dir


class PrivateDockerd:
    def __init__(self) -> None:
        self.base = tempfile.mkdtemp(prefix="darse-dockerd-")
        self.sock = f"{self.base}/docker.sock"
        self.proc = subprocess.Popen(
            ["dockerd", "--data-root", f"{self.base}/data", "--exec-root", f"{self.base}/exec",
             "-H", f"unix://{self.sock}", "--pidfile", f"{self.base}/docker.pid",
             "--bridge", "none", "--iptables=false", "--ip6tables=false"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while self.docker("version").returncode != 0:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("the private dockerd did not start")
            time.sleep(0.2)

    def docker(self, *args: str, **kw: object) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
        return subprocess.run(["docker", "-H", f"unix://{self.sock}", *args],
                              capture_output=True, env=env, **kw)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        subprocess.run(["umount", "-R", f"{self.base}/data"], capture_output=True)
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture(scope="module")
def dockerd() -> Iterator[PrivateDockerd]:
    if not shutil.which("dockerd"):
        raise RuntimeError("dockerd is missing: install.sh installs docker.io")
    d = PrivateDockerd()
    yield d
    d.stop()


def test_docker_save_loads_in_darse(dockerd: PrivateDockerd, store: ImageStore,
                                    busybox_rootfs: str) -> None:
    done = dockerd.docker("import", "-", "fromdocker:1", input=tar_of_dir(busybox_rootfs))
    assert done.returncode == 0, done.stderr
    docker_id = dockerd.docker("inspect", "--format", "{{.Id}}", "fromdocker:1"
                               ).stdout.decode().strip()
    saved = dockerd.docker("save", "fromdocker:1")
    assert saved.returncode == 0
    assert archive.load(store, io.BytesIO(saved.stdout)) == ["Loaded image: fromdocker:1"]
    assert store.resolve("fromdocker:1") == docker_id


def test_darse_save_loads_in_docker(dockerd: PrivateDockerd, store: ImageStore,
                                    busybox_rootfs: str) -> None:
    image_id = import_image(store, io.BytesIO(tar_of_dir(busybox_rootfs)), "fromdarse:1",
                            changes=['CMD ["sh"]'])
    out = io.BytesIO()
    archive.save(store, ["fromdarse:1"], out)
    done = dockerd.docker("load", input=out.getvalue())
    assert done.returncode == 0, done.stderr
    assert b"Loaded image: fromdarse:1" in done.stdout
    info = json.loads(dockerd.docker("inspect", "fromdarse:1").stdout)[0]
    assert info["Id"] == image_id and info["Config"]["Cmd"] == ["sh"]
