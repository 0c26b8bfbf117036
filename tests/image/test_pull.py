"""Pull from a real registry: layers, digests, platforms, failures that keep nothing."""

from __future__ import annotations

import gzip
import os
import socket
import threading

import httpx
import pytest

from darse.errors import DarseError, InvalidArgument, NotFound
from darse.image import reference
from darse.image.pull import pull
from darse.image.store import ImageStore
from tests.image.conftest import RegistryServer
from tests.ocilayout import Layout, tar_of_entries


def test_pull_busybox(store: ImageStore, busybox_in_registry: str, busybox_rootfs: str) -> None:
    events: list[dict] = []
    image_id = pull(store, reference.parse(busybox_in_registry), progress=events.append)
    info = store.inspect(busybox_in_registry)
    assert info["Id"] == image_id
    assert info["RepoTags"] == [busybox_in_registry]
    assert info["RepoDigests"][0].startswith(busybox_in_registry.rsplit(":", 1)[0] + "@sha256:")
    assert info["Architecture"] == "amd64" and info["Config"]["Cmd"] == ["sh"]
    chain = store.chain(image_id)
    diff = store.snapshots.diff(chain[0])
    assert os.readlink(f"{diff}/bin/sh") == "/bin/busybox"
    size = os.path.getsize(f"{busybox_rootfs}/bin/busybox")
    assert os.path.getsize(f"{diff}/bin/busybox") == size
    statuses = [e["status"] for e in events]
    assert statuses[0] == "Pulling from library/busybox"
    assert "Pull complete" in statuses
    assert statuses[-1] == f"Status: Downloaded newer image for {busybox_in_registry}"

    # Again: nothing to download.
    events.clear()
    assert pull(store, reference.parse(busybox_in_registry), progress=events.append) == image_id
    assert "Already exists" in [e["status"] for e in events]
    assert events[-1]["status"] == f"Status: Image is up to date for {busybox_in_registry}"


def test_pull_by_digest(store: ImageStore, busybox_in_registry: str) -> None:
    image_id = pull(store, reference.parse(busybox_in_registry))
    repo_digest = store.inspect(image_id)["RepoDigests"][0]
    other = ImageStore(store.root + "-2")
    assert pull(other, reference.parse(repo_digest)) == image_id
    assert other.inspect(repo_digest)["RepoTags"] == []


def test_pull_of_unknown_tag(store: ImageStore, registry: RegistryServer) -> None:
    with pytest.raises(NotFound, match="manifest unknown"):
        pull(store, reference.parse(f"{registry.host}/library/busybox:nope"))


def test_multi_platform_index(store: ImageStore, registry: RegistryServer, tmp_path) -> None:
    layout = Layout(tmp_path / "multi")
    amd = layout.image([tar_of_entries([("arch", "file", "amd64\n")])], tag=None, arch="amd64")
    arm = layout.image([tar_of_entries([("arch", "file", "arm64\n")])], tag=None, arch="arm64")
    layout.multi_platform("latest", [amd, arm])
    registry.push_layout(tmp_path / "multi", "multi/app", all_platforms=True)
    name = f"{registry.host}/multi/app:latest"
    native = pull(store, reference.parse(name))
    assert store.inspect(native)["Architecture"] == "amd64"
    with open(f"{store.snapshots.diff(store.chain(native)[0])}/arch") as f:
        assert f.read() == "amd64\n"
    arm_id = pull(store, reference.parse(name), platform="linux/arm64")
    assert arm_id != native and store.inspect(arm_id)["Architecture"] == "arm64"
    with pytest.raises(NotFound, match="no matching manifest for linux/s390x"):
        pull(store, reference.parse(name), platform="linux/s390x")


@pytest.mark.parametrize("compress", ["zstd", "none"])
def test_zstd_and_uncompressed_layers(store: ImageStore, registry: RegistryServer, tmp_path,
                                      compress: str) -> None:
    layout = Layout(tmp_path / compress)
    layout.image([tar_of_entries([("hello", "file", f"{compress}\n")])], compress=compress)
    registry.push_layout(tmp_path / compress, f"comp/{compress}")
    image_id = pull(store, reference.parse(f"{registry.host}/comp/{compress}"))
    with open(f"{store.snapshots.diff(store.chain(image_id)[0])}/hello") as f:
        assert f.read() == f"{compress}\n"


def _nothing_kept(store: ImageStore) -> None:
    assert store.image_ids() == []
    assert store.snapshots.all() == []
    assert [d for d in os.listdir(store.snapshots.dir) if d.startswith(".tmp")] == []
    assert os.listdir(store.content.tmpdir) == []


def test_malicious_layer_is_refused(store: ImageStore, registry: RegistryServer,
                                    tmp_path) -> None:
    victim = tmp_path / "victim"
    cases = {
        "dotdot": [(f"../../../../../../..{victim}/x", "file", "escaped")],
        "symlink": [("link", "symlink", str(victim)), ("link/x", "file", "escaped")],
        "hardlink": [("../outside", "hardlink", "etc/passwd")],
    }
    victim.mkdir()
    for name, entries in cases.items():
        layout = Layout(tmp_path / name)
        layout.image([tar_of_entries(entries)])
        registry.push_layout(tmp_path / name, f"evil/{name}")
        with pytest.raises(InvalidArgument):
            pull(store, reference.parse(f"{registry.host}/evil/{name}"))
        assert os.listdir(victim) == []
        _nothing_kept(store)


def test_blob_with_wrong_digest_is_refused(store: ImageStore, registry: RegistryServer,
                                           tmp_path) -> None:
    layout = Layout(tmp_path / "corrupt")
    layout.image([tar_of_entries([("f", "file", "original content\n")])], compress="none")
    registry.push_layout(tmp_path / "corrupt", "bad/corrupt")
    # skopeo may recompress on the way: the registry's own manifest names the blob.
    manifest = httpx.get(f"http://{registry.host}/v2/bad/corrupt/manifests/latest", headers={
        "Accept": "application/vnd.oci.image.manifest.v1+json, "
                  "application/vnd.docker.distribution.manifest.v2+json"}).json()
    blob = registry.blob_path(manifest["layers"][0]["digest"])
    data = blob.read_bytes()
    # A valid layer, but not the one the digest names.
    blob.write_bytes(gzip.compress(tar_of_entries([("f", "file", "tampered content\n")])))
    with pytest.raises(InvalidArgument, match="verification failed"):
        pull(store, reference.parse(f"{registry.host}/bad/corrupt"))
    _nothing_kept(store)
    blob.write_bytes(data)


class DroppingProxy:
    """A TCP proxy to the registry that cuts the first big response after `limit` bytes."""

    def __init__(self, target_port: int, limit: int) -> None:
        self.target, self.limit = target_port, limit
        self.dropped = 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            threading.Thread(target=self._pipe, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, True), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, downstream: bool) -> None:
        sent = 0
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if downstream and not self.dropped and sent + len(data) > self.limit:
                    self.dropped += 1
                    dst.sendall(data[: self.limit - sent])
                    break
                dst.sendall(data)
                sent += len(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def close(self) -> None:
        self.sock.close()


def test_download_resumes_after_a_dropped_connection(store: ImageStore,
                                                     registry: RegistryServer,
                                                     tmp_path) -> None:
    big = os.urandom(3 * 1024 * 1024)
    layout = Layout(tmp_path / "big")
    layout.image([tar_of_entries([("random.bin", "file", big)])], compress="none")
    registry.push_layout(tmp_path / "big", "big/random")
    proxy = DroppingProxy(registry.port, limit=1024 * 1024)
    try:
        image_id = pull(store, reference.parse(f"127.0.0.1:{proxy.port}/big/random"))
    finally:
        proxy.close()
    assert proxy.dropped == 1
    with open(f"{store.snapshots.diff(store.chain(image_id)[0])}/random.bin", "rb") as f:
        assert f.read() == big


def test_unreachable_registry(store: ImageStore) -> None:
    with pytest.raises(DarseError):
        pull(store, reference.parse("127.0.0.1:1/nothing/here"))


def test_pull_all_tags(store: ImageStore, registry: RegistryServer, tmp_path) -> None:
    from darse.image.pull import pull_all_tags

    for tag in ("v1", "v2"):
        layout = Layout(tmp_path / tag)
        layout.image([tar_of_entries([("version", "file", tag)])], tag=tag)
        registry.push_layout(tmp_path / tag, "tags/app", tag=tag)
    ids = pull_all_tags(store, reference.parse(f"{registry.host}/tags/app"))
    assert len(set(ids)) == 2
    assert sorted(t for i in store.list() for t in i["RepoTags"]) == [
        f"{registry.host}/tags/app:v1", f"{registry.host}/tags/app:v2"]
