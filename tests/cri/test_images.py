"""ImageService over darse's image store: what the kubelet pulls is what `darse images`
lists, and the other way round."""

from __future__ import annotations

import base64
import json
import subprocess

import grpc
import pytest

from darse.cri.proto import api_pb2 as pb
from tests.cri.conftest import Cri, container_config, pod_config
from tests.ocilayout import Layout, tar_of_dir


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


def test_pull_with_the_kubelets_credentials(cri: Cri, auth_registry, busybox_rootfs: str,
                                           tmp_path) -> None:
    layout = Layout(tmp_path / "layout")
    layout.image([tar_of_dir(busybox_rootfs)], tag="latest")
    subprocess_args = ["skopeo", "copy", "--quiet", "--dest-tls-verify=false",
                       "--dest-creds", "darse:s3cret", f"oci:{tmp_path / 'layout'}:latest",
                       f"docker://{auth_registry.host}/private/bb:latest"]
    subprocess.run(subprocess_args, check=True, capture_output=True)
    spec = pb.ImageSpec(image=f"{auth_registry.host}/private/bb:latest")
    with pytest.raises(grpc.RpcError) as info:
        cri.images.PullImage(pb.PullImageRequest(image=spec))
    assert "unauthorized" in info.value.details().lower() or \
        "authentication" in info.value.details().lower(), info.value.details()
    with pytest.raises(grpc.RpcError):
        cri.images.PullImage(pb.PullImageRequest(image=spec, auth=pb.AuthConfig(
            username="darse", password="wrong")))
    assert not cri.images.ImageStatus(pb.ImageStatusRequest(image=spec)).HasField("image")
    # username/password, as the kubelet passes an image pull secret's...
    ref = cri.images.PullImage(pb.PullImageRequest(image=spec, auth=pb.AuthConfig(
        username="darse", password="s3cret"))).image_ref
    assert cri.images.ImageStatus(pb.ImageStatusRequest(image=spec)).image.id == ref
    cri.images.RemoveImage(pb.RemoveImageRequest(image=spec))
    # ...or the "auth" field, base64 of user:password.
    token = base64.b64encode(b"darse:s3cret").decode()
    assert cri.images.PullImage(pb.PullImageRequest(image=spec, auth=pb.AuthConfig(
        auth=token))).image_ref == ref
    cri.images.RemoveImage(pb.RemoveImageRequest(image=spec))


def test_an_image_a_pod_uses_stays(cri: Cri) -> None:
    """`darse rmi` (the Docker API) sees pods' containers as users of their image."""
    pod = cri.runtime.RunPodSandbox(pb.RunPodSandboxRequest(
        config=pod_config("holder"))).pod_sandbox_id
    try:
        cid = cri.runtime.CreateContainer(pb.CreateContainerRequest(
            pod_sandbox_id=pod, config=container_config("c", "sleep", "1000"))).container_id
        cri.runtime.StartContainer(pb.StartContainerRequest(container_id=cid))
        image_id = cri.runtime.ContainerStatus(pb.ContainerStatusRequest(
            container_id=cid)).status.image_id
        status, out = cri.darsed.api("DELETE", f"/images/{image_id}?force=1")
        assert status == 409 and b"running container" in out, out
        status, _ = cri.darsed.api("POST", "/images/prune?filters=%7B%22dangling%22%3A"
                                           "%5B%22false%22%5D%7D")
        assert cri.images.ImageStatus(pb.ImageStatusRequest(
            image=pb.ImageSpec(image=image_id))).image.id == image_id
    finally:
        cri.runtime.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=pod))



def test_simultaneous_removes_all_succeed(cri: Cri, busybox_in_registry: str) -> None:
    """critest's Image Consistency spec: RemoveImage by id from several clients at once;
    each call succeeds and sees the image gone when it returns."""
    from concurrent.futures import ThreadPoolExecutor

    spec = pb.ImageSpec(image=busybox_in_registry)
    for _ in range(10):  # the race is the point: rounds make it likely
        image_id = cri.images.PullImage(pb.PullImageRequest(image=spec)).image_ref

        def remove(image_id: str) -> bool:
            cri.images.RemoveImage(pb.RemoveImageRequest(image=pb.ImageSpec(image=image_id)))
            return cri.images.ImageStatus(pb.ImageStatusRequest(
                image=pb.ImageSpec(image=image_id))).HasField("image")

        with ThreadPoolExecutor(5) as pool:
            assert list(pool.map(remove, [image_id] * 5)) == [False] * 5
