"""The CRI server's RuntimeService through a gRPC client, as the kubelet and crictl
reach it."""

from __future__ import annotations

import os

import grpc
import pytest

from darse.cri.proto import api_pb2 as pb
from tests.cri.conftest import Cri


def test_version_status_and_config(cri: Cri) -> None:
    v = cri.runtime.Version(pb.VersionRequest(version="v1"))
    assert (v.runtime_name, v.runtime_api_version, v.version) == ("darse", "v1", "0.1.0")
    status = cri.runtime.Status(pb.StatusRequest())
    conditions = {c.type: c.status for c in status.status.conditions}
    assert conditions["RuntimeReady"] is True
    assert cri.runtime.RuntimeConfig(pb.RuntimeConfigRequest()).linux.cgroup_driver == \
        pb.CGROUPFS


def test_socket_is_roots_only(cri: Cri) -> None:
    assert os.stat(cri.socket).st_mode & 0o777 == 0o600


def test_unknown_ids(cri: Cri) -> None:
    with pytest.raises(grpc.RpcError) as info:
        cri.runtime.PodSandboxStatus(pb.PodSandboxStatusRequest(pod_sandbox_id="0" * 64))
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as info:
        cri.runtime.ContainerStatus(pb.ContainerStatusRequest(container_id="nope"))
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    # Stopping or removing what is not there is done already (the kubelet retries these).
    cri.runtime.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id="0" * 64))
    cri.runtime.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id="0" * 64))
    cri.runtime.StopContainer(pb.StopContainerRequest(container_id="0" * 64))
    cri.runtime.RemoveContainer(pb.RemoveContainerRequest(container_id="0" * 64))
