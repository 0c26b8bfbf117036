"""ImageService over darse's image store: what the kubelet pulls is what `darse images`
lists, and the other way round."""

from __future__ import annotations

import json

from darse.cri.proto import api_pb2 as pb
from tests.cri.conftest import Cri


def test_pull_status_list_remove(cri: Cri, busybox_in_registry: str) -> None:
    spec = pb.ImageSpec(image=busybox_in_registry)
    assert not cri.images.ImageStatus(pb.ImageStatusRequest(image=spec)).HasField("image")
    ref = cri.images.PullImage(pb.PullImageRequest(image=spec)).image_ref
    assert ref.startswith("sha256:")
    image = cri.images.ImageStatus(pb.ImageStatusRequest(image=spec)).image
    assert image.id == ref and image.repo_tags == [busybox_in_registry]
    assert image.repo_digests[0].startswith(busybox_in_registry.rsplit(":", 1)[0] + "@sha256:")
    assert image.size > 1_000_000
    listed = {i.id: i for i in cri.images.ListImages(pb.ListImagesRequest()).images}
    assert ref in listed
    # The engine's own store: the Docker API sees the pulled image.
    status, out = cri.darsed.api("GET", "/images/json")
    assert busybox_in_registry in [t for i in json.loads(out) for t in i["RepoTags"]]
    # An image imported through the Docker API, named in full for the kubelet.
    names = [t for i in listed.values() for t in i.repo_tags]
    assert "docker.io/library/busybox:latest" in names

    cri.images.RemoveImage(pb.RemoveImageRequest(image=spec))
    assert not cri.images.ImageStatus(pb.ImageStatusRequest(image=spec)).HasField("image")
    assert ref not in {i.id for i in cri.images.ListImages(pb.ListImagesRequest()).images}
    cri.images.RemoveImage(pb.RemoveImageRequest(image=spec))  # gone already: no error


def test_image_fs_info(cri: Cri) -> None:
    info = cri.images.ImageFsInfo(pb.ImageFsInfoRequest())
    fs = info.image_filesystems[0]
    assert fs.fs_id.mountpoint.startswith(cri.darsed.data_root)
    assert fs.used_bytes.value > 1_000_000  # busybox, imported by the fixture
