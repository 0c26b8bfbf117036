"""A darsed of the test's own serving the CRI on its own socket, and a gRPC client made
from darse's .proto (the kubelet's side of the wire)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass

import grpc
import pytest

from darse.cri.proto import api_pb2 as pb
from darse.cri.proto import api_pb2_grpc as pb_grpc
from tests.daemon import Darsed, leftover_mounts, new_daemon
from tests.image.conftest import auth_registry, busybox_in_registry, registry  # noqa: F401


@dataclass
class Cri:
    darsed: Darsed
    socket: str
    runtime: pb_grpc.RuntimeServiceStub
    images: pb_grpc.ImageServiceStub

    def remove_all(self) -> None:
        for pod in self.runtime.ListPodSandbox(pb.ListPodSandboxRequest()).items:
            self.runtime.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=pod.id))


@contextlib.contextmanager
def cri_node(busybox_rootfs: str, config: dict | None = None) -> Iterator[Cri]:
    """A darsed serving the CRI (its daemon.json: config, with the run's own bridge),
    busybox imported, and a client; every pod removed and nothing left after."""
    d = new_daemon()
    if config is not None:
        from tests.conftest import unique_network

        bridge, bip = unique_network()
        (d.base / "daemon.json").write_text(json.dumps({"bridge": bridge, "bip": bip,
                                                        **config}))
    sock = str(d.base / "cri.sock")
    (d.base / "net.d").mkdir()  # no pod network unless a test writes a conflist there
    d.extra_args = ["--cri-socket", sock, "--cni-conf-dir", str(d.base / "net.d")]
    d.start()
    d.import_busybox(busybox_rootfs)
    # The kubelet's own limit on the messages it takes.
    channel = grpc.insecure_channel(f"unix://{sock}", options=[
        ("grpc.max_receive_message_length", 16 * 1024 * 1024)])
    client = Cri(d, sock, pb_grpc.RuntimeServiceStub(channel),
                 pb_grpc.ImageServiceStub(channel))
    try:
        yield client
    finally:
        try:
            client.remove_all()
        finally:
            channel.close()
            d.stop()
            left = leftover_mounts(str(d.base))
            shutil.rmtree(d.base, ignore_errors=True)
    assert not left, left


@pytest.fixture(scope="module")
def cri(busybox_rootfs: str) -> Iterator[Cri]:
    with cri_node(busybox_rootfs) as client:
        yield client


@pytest.fixture
def pods(cri: Cri) -> Iterator[Cri]:
    """The module's CRI client; every pod a test made is removed after it."""
    yield cri
    cri.remove_all()


def pod_config(name: str, log_dir: str = "", **linux: object) -> pb.PodSandboxConfig:
    return pb.PodSandboxConfig(
        metadata=pb.PodSandboxMetadata(name=name, uid=f"uid-{name}", namespace="default"),
        hostname=name, log_directory=log_dir, labels={"app": name},
        linux=pb.LinuxPodSandboxConfig(**linux))


def container_config(name: str, *command: str, log_path: str = "") -> pb.ContainerConfig:
    return pb.ContainerConfig(metadata=pb.ContainerMetadata(name=name),
                              image=pb.ImageSpec(image="busybox"), command=list(command),
                              log_path=log_path)


def ns_link(pid: int, kind: str) -> str:
    return os.readlink(f"/proc/{pid}/ns/{kind}")
