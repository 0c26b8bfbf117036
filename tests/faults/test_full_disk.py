"""A data root whose filesystem is full (issue 10, item 9): darsed starts, and an import
or a load that runs out of space answers "no space left on device" and leaves the stores
and state.db as they were. The data root is a 40 MB tmpfs of the test's own."""

from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
from collections.abc import Iterator

import pytest

from tests.daemon import Darsed, leftover_mounts, new_daemon


def _fill(path: str, leave: int = 0) -> None:
    """Fill the filesystem, then free `leave` bytes."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for chunk in (1 << 20, 4096, 1):
            try:
                while os.write(fd, b"\0" * chunk):
                    pass
            except OSError:
                pass
    finally:
        os.close(fd)
    if leave:
        size = os.path.getsize(path)
        os.truncate(path, max(size - leave, 0))


def _random_tar(size: int) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        data = os.urandom(size)
        info = tarfile.TarInfo("big")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _state(d: Darsed) -> tuple:
    data = d.data_root
    db = sqlite3.connect(os.path.join(data, "state.db"))
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    images = sorted(r[0] for r in db.execute("SELECT id FROM images"))
    layers = sorted(r[0] for r in db.execute("SELECT chain_id FROM layers"))
    db.close()
    return (images, layers, sorted(os.listdir(os.path.join(data, "blobs", "sha256"))),
            sorted(os.listdir(os.path.join(data, "overlay"))),
            os.listdir(os.path.join(data, "blobs", "ingest")))


@pytest.fixture
def small(busybox_rootfs: str) -> Iterator[Darsed]:
    d = new_daemon()
    os.makedirs(d.data_root)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=40m", "darse-test-full", d.data_root],
                   check=True)
    try:
        d.start()
        d.import_busybox(busybox_rootfs)
        yield d
    finally:
        filler = os.path.join(d.data_root, "filler")
        if os.path.exists(filler):
            os.unlink(filler)
        if d.proc is not None and d.proc.poll() is not None:
            d.start()
        d.stop()
        subprocess.run(["umount", d.data_root], check=True)
        assert leftover_mounts(str(d.base)) == []
        shutil.rmtree(d.base, ignore_errors=True)


def test_darsed_starts_on_a_full_data_root(small: Darsed) -> None:
    small.kill()
    _fill(os.path.join(small.data_root, "filler"))
    small.start()
    status, out = small.api("GET", "/images/json")
    assert status == 200 and len(json.loads(out)) == 1, out
    status, out = small.api("POST", "/containers/create?name=one",
                            {"Image": "busybox", "Cmd": ["true"]})
    assert status == 500 and "no space left on device" in json.loads(out)["message"], out
    assert small.api("GET", "/containers/one/json")[0] == 404  # nothing recorded


@pytest.mark.parametrize("room", [4 << 20, 12 << 20], ids=["body", "store"])
def test_an_import_into_a_full_disk_fails_clearly_and_leaves_nothing(small: Darsed,
                                                                     room: int) -> None:
    # 4 MB: the request's 8 MB body does not fit; 12 MB: it does, its layer does not.
    before = _state(small)
    _fill(os.path.join(small.data_root, "filler"), leave=room)
    status, out = small.api("POST", "/images/create?fromSrc=-&repo=big&tag=one",
                            raw=_random_tar(8 << 20))
    assert "no space left on device" in out.decode(), out
    assert _state(small) == before
    assert small.api("GET", "/images/big:one/json")[0] == 404


@pytest.mark.parametrize("room", [1, 2.5], ids=["body", "store"])
def test_a_load_into_a_full_disk_fails_clearly_and_leaves_nothing(small: Darsed,
                                                                   room: float) -> None:
    status, saved = small.api("GET", "/images/get?names=busybox")
    assert status == 200
    assert small.api("DELETE", "/images/busybox")[0] == 200
    before = _state(small)
    # Room for less than the archive, or for it but not for its blobs and layer too.
    _fill(os.path.join(small.data_root, "filler"), leave=int(len(saved) * room) - 65536)
    status, out = small.api("POST", "/images/load?quiet=1", raw=saved)
    assert "no space left on device" in out.decode(), out
    assert _state(small) == before
    os.unlink(os.path.join(small.data_root, "filler"))
    status, out = small.api("POST", "/images/load?quiet=1", raw=saved)  # room again: it loads
    assert status == 200 and b"Loaded image" in out, out


def test_a_two_layer_load_cut_short_keeps_neither_layer(small: Darsed) -> None:
    status, out = small.api("POST", "/containers/create?name=big",
                            {"Image": "busybox", "Cmd": ["dd", "if=/dev/urandom", "of=/big",
                                                         "bs=1M", "count=5"]})
    cid = json.loads(out)["Id"]
    assert small.api("POST", f"/containers/{cid}/start")[0] == 204
    assert json.loads(small.api("POST", f"/containers/{cid}/wait")[1])["StatusCode"] == 0
    status, out = small.api("POST", f"/commit?container={cid}&repo=two&tag=layers")
    assert status == 201, out
    assert small.api("DELETE", f"/containers/{cid}")[0] == 204
    status, saved = small.api("GET", "/images/get?names=two:layers")
    assert status == 200
    for name in ("two:layers", "busybox"):
        assert small.api("DELETE", f"/images/{name}")[0] == 200
    before = _state(small)
    # The body and its blobs fit, and the first layer unpacked; the 5 MB one does not.
    _fill(os.path.join(small.data_root, "filler"), leave=2 * len(saved) + (3 << 20))
    status, out = small.api("POST", "/images/load?quiet=1", raw=saved)
    assert _state(small) == before
    assert "no space left on device" in out.decode(), out


def test_a_pull_into_a_full_disk_fails_clearly_and_leaves_nothing(
        small: Darsed, busybox_rootfs: str, tmp_path) -> None:  # noqa: ANN001
    from tests.image.conftest import RegistryServer
    from tests.ocilayout import Layout, tar_of_dir

    (tmp_path / "registry").mkdir()
    registry = RegistryServer(tmp_path / "registry")
    try:
        layout = Layout(tmp_path / "layout")
        layout.image([tar_of_dir(busybox_rootfs), _random_tar(8 << 20)], tag="latest")
        registry.push_layout(tmp_path / "layout", "two")
        before = _state(small)
        _fill(os.path.join(small.data_root, "filler"), leave=6 << 20)
        status, out = small.api("POST", f"/images/create?fromImage={registry.host}/two"
                                        "&tag=latest")
        assert "no space left on device" in out.decode(), out
        assert _state(small) == before
        os.unlink(os.path.join(small.data_root, "filler"))
        status, out = small.api("POST", f"/images/create?fromImage={registry.host}/two"
                                        "&tag=latest")
        assert b"Downloaded newer image" in out, out
    finally:
        registry.stop()
