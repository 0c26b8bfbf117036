"""A pod container's groups: the image's /etc/group memberships of its user joined to the
pod's supplemental groups (Merge, the default) or left out (Strict, KEP-3619), and the
identity ContainerStatus reports, as critest's SupplementalGroupsPolicy specs ask."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from darse.cri.proto import api_pb2 as pb
from tests.cri.conftest import Cri, container_config, pod_config
from tests.cri.test_pods import sh


@pytest.fixture(scope="module")
def grouped_image(cri: Cri, busybox_rootfs: str, tmp_path_factory: pytest.TempPathFactory
                  ) -> Iterator[str]:
    """busybox whose default-user (1000) is also in group-defined-in-image (50000), as
    critest's test-image-predefined-group."""
    root = tmp_path_factory.mktemp("grouped") / "rootfs"
    shutil.copytree(busybox_rootfs, root, symlinks=True)
    with open(root / "etc/passwd", "a") as f:
        f.write("default-user:x:1000:1000::/home/default-user:/bin/sh\n")
    with open(root / "etc/group", "a") as f:
        f.write("default-user:x:1000:\ngroup-defined-in-image:x:50000:default-user\n")
    cri.darsed.import_busybox(str(root), name="grouped:latest")
    yield "grouped:latest"
    shutil.rmtree(root.parent, ignore_errors=True)


def _groups(pods: Cri, image: str, policy: int) -> tuple[bytes, pb.ContainerUser]:
    pod = pods.runtime.RunPodSandbox(pb.RunPodSandboxRequest(
        config=pod_config(f"groups{policy}"))).pod_sandbox_id
    cc = container_config("c", "sleep", "1000")
    cc.image.image = image
    cc.linux.security_context.CopyFrom(pb.LinuxContainerSecurityContext(
        run_as_user=pb.Int64Value(value=1000), supplemental_groups=[1234],
        supplemental_groups_policy=policy))
    cid = pods.runtime.CreateContainer(pb.CreateContainerRequest(
        pod_sandbox_id=pod, config=cc)).container_id
    pods.runtime.StartContainer(pb.StartContainerRequest(container_id=cid))
    user = pods.runtime.ContainerStatus(pb.ContainerStatusRequest(container_id=cid)).status.user
    return sh(pods, cid, "id -G").stdout, user


def test_runtime_says_it_knows_the_policy(cri: Cri) -> None:
    assert cri.runtime.Status(pb.StatusRequest()).features.supplemental_groups_policy


def test_merge_keeps_the_images_groups(pods: Cri, grouped_image: str) -> None:
    out, user = _groups(pods, grouped_image, pb.Merge)
    assert sorted(out.split()) == [b"1000", b"1234", b"50000"], out
    assert (user.linux.uid, user.linux.gid) == (1000, 1000)
    assert sorted(user.linux.supplemental_groups) == [1000, 1234, 50000]


def test_strict_leaves_the_images_groups_out(pods: Cri, grouped_image: str) -> None:
    out, user = _groups(pods, grouped_image, pb.Strict)
    assert out == b"1000 1234\n", out
    assert (user.linux.uid, user.linux.gid) == (1000, 1000)
    assert sorted(user.linux.supplemental_groups) == [1000, 1234]
