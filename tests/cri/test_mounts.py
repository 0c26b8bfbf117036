"""Recursive read-only host path mounts (Mount.recursive_read_only): the mounts under the
host folder are read-only in the container too, where a plain read-only bind leaves them
writable; what cannot stay read-only (a writable or propagating mount) is refused."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from darse.cri.proto import api_pb2 as pb
from tests.cri.conftest import Cri, container_config, pod_config
from tests.cri.test_pods import sh


@pytest.fixture
def host_dir(tmp_path: Path) -> Iterator[Path]:
    """A host folder with a tmpfs mounted under it (critest's createHostPathForRROMount)."""
    (tmp_path / "tmpfs").mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "none", str(tmp_path / "tmpfs")],
                   check=True)
    yield tmp_path
    subprocess.run(["umount", "-l", str(tmp_path / "tmpfs")], check=False)


def _create(pods: Cri, pod: str, mount: pb.Mount) -> str:
    cc = container_config("c", "sleep", "1000")
    cc.mounts.append(mount)
    return pods.runtime.CreateContainer(pb.CreateContainerRequest(
        pod_sandbox_id=pod, config=cc)).container_id


def test_runtime_handler_says_so(cri: Cri) -> None:
    handlers = cri.runtime.Status(pb.StatusRequest()).runtime_handlers
    assert [h.features.recursive_read_only_mounts for h in handlers] == [True]


@pytest.mark.parametrize("recursive", [False, True])
def test_read_only_down_to_the_mounts_under_it(pods: Cri, host_dir: Path,
                                               recursive: bool) -> None:
    pod = pods.runtime.RunPodSandbox(pb.RunPodSandboxRequest(
        config=pod_config(f"rro{int(recursive)}"))).pod_sandbox_id
    cid = _create(pods, pod, pb.Mount(container_path="/mnt", host_path=str(host_dir),
                                      readonly=True, recursive_read_only=recursive))
    pods.runtime.StartContainer(pb.StartContainerRequest(container_id=cid))
    top = sh(pods, cid, "touch /mnt/top")
    assert top.exit_code != 0 and b"Read-only file system" in top.stderr
    under = sh(pods, cid, "touch /mnt/tmpfs/file")
    if recursive:
        assert under.exit_code != 0 and b"Read-only file system" in under.stderr, under
        assert not (host_dir / "tmpfs/file").exists()
    else:
        assert under.exit_code == 0, under
        assert (host_dir / "tmpfs/file").exists()


@pytest.mark.parametrize("mount", [
    pb.Mount(container_path="/mnt", readonly=False, recursive_read_only=True),
    pb.Mount(container_path="/mnt", readonly=True, recursive_read_only=True,
             propagation=pb.PROPAGATION_HOST_TO_CONTAINER),
    pb.Mount(container_path="/mnt", readonly=True, recursive_read_only=True,
             propagation=pb.PROPAGATION_BIDIRECTIONAL),
], ids=["writable", "host-to-container", "bidirectional"])
def test_what_cannot_stay_read_only_is_refused(pods: Cri, host_dir: Path,
                                               mount: pb.Mount) -> None:
    pod = pods.runtime.RunPodSandbox(pb.RunPodSandboxRequest(
        config=pod_config("rro-bad"))).pod_sandbox_id
    mount.host_path = str(host_dir)
    with pytest.raises(grpc.RpcError) as info:
        _create(pods, pod, mount)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "recursive read-only" in info.value.details()
    assert not pods.runtime.ListContainers(pb.ListContainersRequest()).containers
