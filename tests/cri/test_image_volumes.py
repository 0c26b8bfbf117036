"""Image volumes (Mount.image): an image's files read-only at a path of a pod container,
or one folder of them (image_sub_path), as critest's Image Volume specs ask; what cannot
be (a writable one, a sub path the image lacks or that leaves it) refused at create."""

from __future__ import annotations

import grpc
import pytest

from darse.cri.proto import api_pb2 as pb
from tests.cri.conftest import Cri, container_config, pod_config
from tests.cri.test_pods import sh
from tests.daemon import leftover_mounts


def _create(pods: Cri, pod: str, **mount: object) -> str:
    cc = container_config("c", "sleep", "1000")
    cc.mounts.append(pb.Mount(container_path="/mnt/image-volume",
                              image=pb.ImageSpec(image="busybox"), **mount))
    return pods.runtime.CreateContainer(pb.CreateContainerRequest(
        pod_sandbox_id=pod, config=cc)).container_id


def _pod(pods: Cri) -> str:
    return pods.runtime.RunPodSandbox(pb.RunPodSandboxRequest(
        config=pod_config("iv"))).pod_sandbox_id


def test_image_mounted_read_only_and_named_in_status(pods: Cri) -> None:
    image_id = pods.images.ImageStatus(pb.ImageStatusRequest(
        image=pb.ImageSpec(image="busybox"))).image.id
    cid = _create(pods, _pod(pods), readonly=True)
    pods.runtime.StartContainer(pb.StartContainerRequest(container_id=cid))
    assert sh(pods, cid, "ls -A /mnt/image-volume/bin/sh").exit_code == 0
    r = sh(pods, cid, "touch /mnt/image-volume/test-write")
    assert r.exit_code != 0 and b"Read-only file system" in r.stderr
    assert sh(pods, cid, "/mnt/image-volume/bin/ls /mnt/image-volume").exit_code == 0
    status = pods.runtime.ContainerStatus(pb.ContainerStatusRequest(container_id=cid)).status
    [mount] = status.mounts
    assert mount.container_path == "/mnt/image-volume"
    assert mount.image.image == "busybox" and mount.image.image_ref == image_id
    # The container holds the image, as it holds its own.
    base = str(pods.darsed.base)
    assert any("image-volumes" in m for m in leftover_mounts(base))
    pods.runtime.RemoveContainer(pb.RemoveContainerRequest(container_id=cid))
    assert not [m for m in leftover_mounts(base) if "image-volumes" in m]


def test_sub_path_is_the_folder_alone(pods: Cri) -> None:
    cid = _create(pods, _pod(pods), readonly=True, image_sub_path="etc")
    pods.runtime.StartContainer(pb.StartContainerRequest(container_id=cid))
    assert sh(pods, cid, "ls /mnt/image-volume/passwd").exit_code == 0
    assert sh(pods, cid, "ls /mnt/image-volume/etc/passwd").exit_code != 0


@pytest.mark.parametrize("mount", [
    {"readonly": False},
    {"readonly": True, "image_sub_path": "not-existing"},
    {"readonly": True, "image_sub_path": "../../etc"},
    {"readonly": True, "image_sub_path": "etc/passwd"},
], ids=["writable", "missing-sub-path", "sub-path-leaving-it", "sub-path-a-file"])
def test_refused_at_create(pods: Cri, mount: dict) -> None:
    pod = _pod(pods)
    with pytest.raises(grpc.RpcError) as info:
        _create(pods, pod, **mount)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "image volume" in info.value.details()
    assert not pods.runtime.ListContainers(pb.ListContainersRequest()).containers
    assert not [m for m in leftover_mounts(str(pods.darsed.base)) if "image-volumes" in m]
