"""Push, save/load (with skopeo as the other side), import, tag, rmi, list, history."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess

import httpx
import pytest

from darse.errors import Conflict, InvalidArgument, NotFound
from darse.image import archive, reference
from darse.image.importer import import_image
from darse.image.pull import pull
from darse.image.push import push
from darse.image.store import ImageStore
from tests.image.conftest import RegistryServer
from tests.ocilayout import tar_of_entries


@pytest.fixture
def busybox(store: ImageStore, busybox_in_registry: str) -> str:
    return pull(store, reference.parse(busybox_in_registry))


def _nothing_kept(store: ImageStore) -> None:
    assert store.image_ids() == [] and store.snapshots.all() == []
    assert list(store.content.digests()) == [] and os.listdir(store.content.tmpdir) == []


def test_push_then_pull_elsewhere(store: ImageStore, busybox: str, registry: RegistryServer,
                                  tmp_path) -> None:
    target = f"{registry.host}/pushed/busybox:v1"
    store.tag(busybox, target)
    events: list[dict] = []
    digest = push(store, reference.parse(target), progress=events.append)
    statuses = [e["status"] for e in events]
    assert statuses[0] == f"The push refers to repository [{registry.host}/pushed/busybox]"
    assert any(s.startswith("Mounted from library/busybox") or s == "Layer already exists"
               for s in statuses)
    assert statuses[-1].startswith(f"v1: digest: {digest} size: ")
    resp = httpx.get(f"http://{registry.host}/v2/pushed/busybox/manifests/v1",
                     headers={"Accept": "application/vnd.oci.image.manifest.v1+json, "
                              "application/vnd.docker.distribution.manifest.v2+json"})
    assert resp.status_code == 200 and resp.headers["Docker-Content-Digest"] == digest
    # skopeo, another client, reads what darse pushed.
    out = subprocess.run(["skopeo", "inspect", "--tls-verify=false", f"docker://{target}"],
                         capture_output=True, text=True, check=True).stdout
    assert json.loads(out)["Digest"] == digest
    events.clear()
    push(store, reference.parse(target), progress=events.append)
    assert "Layer already exists" in [e["status"] for e in events]
    other = ImageStore(str(tmp_path / "other"))
    assert pull(other, reference.parse(target)) == busybox


def test_import_push_pull(store: ImageStore, registry: RegistryServer, tmp_path) -> None:
    tarball = gzip.compress(tar_of_entries([("etc", "dir", b""), ("etc/motd", "file", "hi\n")]))
    image_id = import_image(store, io.BytesIO(tarball), "imported/app:1",
                            changes=['CMD ["cat", "/etc/motd"]', "ENV A=1 B=2", "EXPOSE 80",
                                     "WORKDIR /etc"], message="made by a test")
    info = store.inspect("imported/app:1")
    assert info["Id"] == image_id and info["RepoTags"] == ["imported/app:1"]
    assert info["Config"]["Cmd"] == ["cat", "/etc/motd"]
    assert info["Config"]["Env"] == ["A=1", "B=2"] and info["Config"]["WorkingDir"] == "/etc"
    assert info["Config"]["ExposedPorts"] == {"80/tcp": {}}
    assert store.history(image_id)[0]["Comment"] == "made by a test"
    target = f"{registry.host}/imported/app:1"
    store.tag(image_id, target)
    push(store, reference.parse(target))
    other = ImageStore(str(tmp_path / "other"))
    assert pull(other, reference.parse(target)) == image_id


def test_import_refuses_bad_input(store: ImageStore) -> None:
    with pytest.raises(InvalidArgument, match="^from is not a valid change command$"):
        import_image(store, io.BytesIO(b""), "x:1", changes=["FROM debian"])
    with pytest.raises(InvalidArgument):
        import_image(store, io.BytesIO(b"\x1f\x8b not really gzip" * 100), "x:1")
    with pytest.raises(InvalidArgument):
        import_image(store, io.BytesIO(tar_of_entries([("../x", "file", "escape")])), "x:1")
    _nothing_kept(store)


def test_save_load_roundtrip_and_skopeo(store: ImageStore, busybox: str, tmp_path,
                                        busybox_in_registry: str) -> None:
    store.tag(busybox, "busybox:saved")
    path = tmp_path / "busybox.tar"
    with open(path, "wb") as f:
        archive.save(store, ["busybox:saved"], f)
    # skopeo reads darse's archive through both transports.
    for transport in ("docker-archive", "oci-archive"):
        out = subprocess.run(["skopeo", "inspect", "--config", f"{transport}:{path}"],
                             capture_output=True, text=True, check=True).stdout
        assert json.loads(out)["rootfs"]["diff_ids"] == store.config(busybox)["rootfs"]["diff_ids"]
    other = ImageStore(str(tmp_path / "other"))
    with open(path, "rb") as f:
        assert archive.load(other, f) == ["Loaded image: busybox:saved"]
    assert other.resolve("busybox:saved") == busybox
    # And darse loads what skopeo writes as a docker-archive.
    skopeo_tar = tmp_path / "skopeo.tar"
    subprocess.run(["skopeo", "copy", "--quiet", "--src-tls-verify=false",
                    f"docker://{busybox_in_registry}", f"docker-archive:{skopeo_tar}:bb:sk"],
                   check=True, capture_output=True)
    third = ImageStore(str(tmp_path / "third"))
    with open(skopeo_tar, "rb") as f:
        assert archive.load(third, f) == ["Loaded image: bb:sk"]
    assert third.resolve("bb:sk") == busybox


def test_load_refuses_bad_archives(store: ImageStore, tmp_path) -> None:
    with pytest.raises(InvalidArgument):
        archive.load(store, io.BytesIO(b"this is not a tar archive at all" * 50))
    buf = io.BytesIO()
    import tarfile

    with tarfile.open(fileobj=buf, mode="w") as tf:
        data = b'[{"Config": "c.json", "RepoTags": ["x:1"], "Layers": ["missing.tar"]}]'
        ti = tarfile.TarInfo("manifest.json")
        ti.size = len(data)
        tf.addfile(ti, io.BytesIO(data))
        ti = tarfile.TarInfo("c.json")
        ti.size = 2
        tf.addfile(ti, io.BytesIO(b"{}"))
    with pytest.raises(InvalidArgument, match="does not hold"):
        archive.load(store, io.BytesIO(buf.getvalue()))
    _nothing_kept(store)


def test_tag_rmi_and_gc(store: ImageStore, busybox: str, busybox_in_registry: str) -> None:
    store.tag(busybox, "mine:1")
    store.tag("mine:1", "mine:2")
    assert store.remove("mine:2") == [{"Untagged": "mine:2"}]
    users = {"now": [("c" * 64, False)]}
    store.image_users = lambda _id: users["now"]
    with pytest.raises(Conflict, match="must be forced"):
        store.remove(busybox)
    # Another name remains: untagging is fine even while a container uses the image.
    # ...and the repository's digest reference goes with its last tag, as dockerd does.
    digest = store.names(busybox)[1][0]
    assert store.remove(busybox_in_registry) == [{"Untagged": busybox_in_registry},
                                                 {"Untagged": digest}]
    with pytest.raises(Conflict, match="container cccccccccccc is using"):
        store.remove("mine:1")
    users["now"] = []
    out = store.remove(busybox, force=True)
    assert {"Untagged": "mine:1"} in out and {"Deleted": busybox} in out
    _nothing_kept(store)
    with pytest.raises(NotFound, match="No such image: mine:1"):
        store.inspect("mine:1")


def test_list_filters_and_history(store: ImageStore, busybox: str) -> None:
    import_image(store, io.BytesIO(tar_of_entries([("a", "file", "a")])),
                 changes=["LABEL team=core"])
    rows = store.list()
    assert len(rows) == 2
    dangling = store.list(filters={"dangling": ["true"]})
    assert len(dangling) == 1 and dangling[0]["RepoTags"] == []
    assert [r["Id"] for r in store.list(filters={"label": ["team=core"]})] == \
        [dangling[0]["Id"]]
    assert [r["Id"] for r in store.list(filters={"reference": ["*/library/busybox"]})] == [busybox]
    with pytest.raises(InvalidArgument, match="invalid filter 'colour'"):
        store.list(filters={"colour": ["red"]})
    history = store.history(busybox)
    assert history[0]["Id"] == busybox and history[0]["CreatedBy"] == "layer 0"
    assert store.resolve(busybox[7:19]) == busybox
    assert store.prune()["ImagesDeleted"][-1]["Deleted"].startswith("sha256:")
    assert len(store.list()) == 1
