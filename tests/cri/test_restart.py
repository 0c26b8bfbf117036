"""darsed restarted under running pods (an upgrade): the pods, their containers and their
namespaces are found again, and the containers go on running."""

from __future__ import annotations

from darse.cri.proto import api_pb2 as pb
from tests.cri.conftest import Cri
from tests.cri.test_pods import run_pod, sh, start


def test_pods_outlive_a_darsed_restart(pods: Cri) -> None:
    pod = run_pod(pods, "durable")
    cid = start(pods, pod, "c", "sleep", "1000")
    before = sh(pods, cid, "readlink /proc/self/ns/net; hostname").stdout
    pods.darsed.kill()
    pods.darsed.start()
    status = pods.runtime.ContainerStatus(pb.ContainerStatusRequest(container_id=cid)).status
    assert status.state == pb.CONTAINER_RUNNING
    assert pods.runtime.PodSandboxStatus(pb.PodSandboxStatusRequest(
        pod_sandbox_id=pod)).status.state == pb.SANDBOX_READY
    assert sh(pods, cid, "readlink /proc/self/ns/net; hostname").stdout == before
    # A new container joins the same namespaces after the restart.
    other = start(pods, pod, "d", "sleep", "1000")
    assert sh(pods, other, "readlink /proc/self/ns/net; hostname").stdout == before


def test_a_pod_whose_namespaces_went_is_not_ready(pods: Cri) -> None:
    """As after a reboot, which empties the exec root: the pins are gone."""
    import os

    from darse import syscalls

    pod = run_pod(pods, "rebooted")
    ns_dir = os.path.join(pods.darsed.exec_root, "cri", "sandboxes", pod, "ns")
    pods.darsed.kill()
    for kind in os.listdir(ns_dir):
        syscalls.umount2(os.path.join(ns_dir, kind), syscalls.MNT_DETACH)
    pods.darsed.start()
    assert pods.runtime.PodSandboxStatus(pb.PodSandboxStatusRequest(
        pod_sandbox_id=pod)).status.state == pb.SANDBOX_NOTREADY
    pods.runtime.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=pod))
    assert not os.path.exists(ns_dir)
