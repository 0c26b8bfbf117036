"""Pull mirrors for any registry host (daemon.json "registry-mirrors-by-host", as
containerd's mirror setting): the image keeps its own name while its bytes come from the
mirror, and the host itself is the last resort when a mirror fails. Every registry here
is on 127.0.0.1."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import grpc
import httpx
import pytest

from darse.cri.proto import api_pb2 as pb
from darse.cri.proto import api_pb2_grpc as pb_grpc
from darse.errors import InvalidArgument
from darse.image import reference
from darse.image.pull import pull
from darse.image.push import push
from darse.image.registry import RegistryConfig
from darse.image.store import ImageStore
from tests.daemon import leftover_mounts, new_daemon
from tests.image.conftest import RegistryServer, free_port
from tests.ocilayout import Layout, tar_of_dir


def _push(server: RegistryServer, rootfs: str, tmp: Path, name: str, tag: str) -> None:
    layout = Layout(tmp)
    layout.image([tar_of_dir(rootfs)], tag=tag)
    server.push_layout(tmp, name, tag)


def test_the_mirror_gives_the_bytes_the_name_stays(registry: RegistryServer,
                                                   busybox_rootfs: str, tmp_path) -> None:
    """The host named in the reference is not even listening: the mirror alone serves."""
    _push(registry, busybox_rootfs, tmp_path / "layout", "pause", "3.9")
    host = f"127.0.0.1:{free_port()}"
    store = ImageStore(str(tmp_path / "data"), registry_config=RegistryConfig(
        registry_mirrors_by_host={host: [f"http://{registry.host}"]}))
    name = f"{host}/pause:3.9"
    image_id = pull(store, reference.parse(name))
    info = store.inspect(name)
    assert info["Id"] == image_id and info["RepoTags"] == [name]
    assert info["RepoDigests"][0].startswith(f"{host}/pause@sha256:")


def test_a_failing_mirror_falls_back_to_the_host(registry: RegistryServer, busybox_rootfs: str,
                                                 tmp_path) -> None:
    """A mirror down, then one without the image: both passed over, the host serves."""
    (tmp_path / "host").mkdir()
    host = RegistryServer(tmp_path / "host")
    try:
        _push(host, busybox_rootfs, tmp_path / "layout", "only/here", "v1")
        store = ImageStore(str(tmp_path / "data"), registry_config=RegistryConfig(
            registry_mirrors_by_host={host.host: [f"http://127.0.0.1:{free_port()}",
                                                  f"http://{registry.host}"]}))
        name = f"{host.host}/only/here:v1"
        image_id = pull(store, reference.parse(name))
        assert store.inspect(name)["Id"] == image_id
    finally:
        host.stop()


def test_each_host_gets_its_own_mirrors(tmp_path) -> None:
    """A mirror serves its own host's pulls only; docker.io's key stays docker.io's."""
    config = RegistryConfig(registry_mirrors=["https://hub-mirror.example"],
                            registry_mirrors_by_host={"registry.k8s.io": ["http://m:5000"]})
    assert config.mirrors("docker.io") == ["https://hub-mirror.example"]
    assert config.mirrors("registry.k8s.io") == ["http://m:5000"]
    assert config.mirrors("gcr.io") == []


def test_a_push_goes_to_the_host_not_its_mirror(registry: RegistryServer, busybox_rootfs: str,
                                                tmp_path) -> None:
    """Mirrors are read-only caches for pulls (Docker's rule): a push lands on the host."""
    (tmp_path / "host").mkdir()
    host = RegistryServer(tmp_path / "host")
    try:
        _push(registry, busybox_rootfs, tmp_path / "layout", "pause", "3.9")
        store = ImageStore(str(tmp_path / "data"), registry_config=RegistryConfig(
            registry_mirrors_by_host={host.host: [f"http://{registry.host}"]}))
        pulled = f"{registry.host}/pause:3.9"
        pull(store, reference.parse(pulled))
        store.tag(pulled, f"{host.host}/pushed:v1")
        push(store, reference.parse(f"{host.host}/pushed:v1"))
        assert httpx.get(f"http://{host.host}/v2/pushed/tags/list").json()["tags"] == ["v1"]
        assert httpx.get(f"http://{registry.host}/v2/pushed/tags/list").status_code == 404
    finally:
        host.stop()


@pytest.mark.parametrize("value", [
    {"registry.k8s.io": "http://127.0.0.1:5000"},
    {"registry.k8s.io": ["ftp://127.0.0.1:5000"]},
    {"registry.k8s.io": ["http://127.0.0.1:5000/some/path"]},
    ["http://127.0.0.1:5000"],
])
def test_bad_mirror_entries_are_refused(value: object) -> None:
    with pytest.raises(InvalidArgument, match="mirror"):
        RegistryConfig(registry_mirrors_by_host=value)  # type: ignore[arg-type]


def test_daemon_json_key_for_the_docker_api_and_the_cri(registry: RegistryServer,
                                                         busybox_rootfs: str) -> None:
    """critest's case: registry.k8s.io/pause:3.9 pulled through a mirror on 127.0.0.1, by
    the Docker API and by the CRI's PullImage, listed under its own name."""
    from tests.conftest import unique_network

    d = new_daemon()
    _push(registry, busybox_rootfs, d.base / "layout", "pause", "3.9")
    bridge, bip = unique_network()
    (d.base / "daemon.json").write_text(json.dumps({
        "bridge": bridge, "bip": bip,
        "registry-mirrors-by-host": {"registry.k8s.io": [f"http://{registry.host}"]}}))
    sock = str(d.base / "cri.sock")
    (d.base / "net.d").mkdir()
    d.extra_args = ["--cri-socket", sock, "--cni-conf-dir", str(d.base / "net.d")]
    d.start()
    channel = grpc.insecure_channel(f"unix://{sock}")
    try:
        status, out = d.api("POST", "/images/create?fromImage=registry.k8s.io/pause&tag=3.9")
        assert status == 200 and b"Downloaded newer image for registry.k8s.io/pause:3.9" in out, \
            out
        status, out = d.api("GET", "/images/json")
        tags = [t for i in json.loads(out) for t in i["RepoTags"]]
        assert "registry.k8s.io/pause:3.9" in tags
        assert d.api("DELETE", "/images/registry.k8s.io/pause:3.9")[0] == 200

        images = pb_grpc.ImageServiceStub(channel)
        spec = pb.ImageSpec(image="registry.k8s.io/pause:3.9")
        ref = images.PullImage(pb.PullImageRequest(image=spec)).image_ref
        image = images.ImageStatus(pb.ImageStatusRequest(image=spec)).image
        assert image.id == ref and image.repo_tags == ["registry.k8s.io/pause:3.9"]
    finally:
        channel.close()
        d.stop()
        left = leftover_mounts(str(d.base))
        shutil.rmtree(d.base, ignore_errors=True)
    assert not left, left


def test_daemon_refuses_a_bad_mirror_entry() -> None:
    from tests.conftest import unique_network

    d = new_daemon()
    bridge, bip = unique_network()
    (d.base / "daemon.json").write_text(json.dumps({
        "bridge": bridge, "bip": bip,
        "registry-mirrors-by-host": {"registry.k8s.io": "http://127.0.0.1:5000"}}))
    try:
        with pytest.raises(RuntimeError, match="registry-mirrors-by-host"):
            d.start()
    finally:
        d.stop()
        shutil.rmtree(d.base, ignore_errors=True)
