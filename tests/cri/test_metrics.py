"""The CRI metrics: every descriptor with help and label keys, and a running pod
container's figures under them (label values as many as the keys), read from its cgroups,
processes and writable layer, as critest's metrics specs and the kubelet ask."""

from __future__ import annotations

import socket
import time

import pytest

from darse.cri.proto import api_pb2 as pb
from tests.cri.conftest import Cri, container_config, pod_config
from tests.cri.test_cni import network  # noqa: F401 - the fixture
from tests.cri.test_pods import run_pod, sh, start


def test_descriptors(cri: Cri) -> None:
    descs = cri.runtime.ListMetricDescriptors(pb.ListMetricDescriptorsRequest()).descriptors
    names = {d.name for d in descs}
    assert {"container_cpu_usage_seconds_total", "container_memory_working_set_bytes",
            "container_network_receive_bytes_total", "container_processes"} <= names
    assert all(d.help and d.label_keys for d in descs)
    assert len(names) == len(descs)


def test_pod_container_figures(pods: Cri) -> None:
    pod = pods.runtime.RunPodSandbox(pb.RunPodSandboxRequest(
        config=pod_config("measured"))).pod_sandbox_id
    cc = container_config("c", "sh", "-c", "sleep 1000 & sleep 1000 & wait")
    cc.linux.resources.CopyFrom(pb.LinuxContainerResources(
        memory_limit_in_bytes=64 << 20, cpu_period=100000, cpu_quota=20000, cpu_shares=1024))
    began = int(time.time())
    cid = pods.runtime.CreateContainer(pb.CreateContainerRequest(
        pod_sandbox_id=pod, config=cc)).container_id
    pods.runtime.StartContainer(pb.StartContainerRequest(container_id=cid))
    assert sh(pods, cid, "dd if=/dev/zero of=/big bs=1M count=2 2>/dev/null").exit_code == 0
    keys = {d.name: len(d.label_keys) for d in pods.runtime.ListMetricDescriptors(
        pb.ListMetricDescriptorsRequest()).descriptors}
    listed = pods.runtime.ListPodSandboxMetrics(pb.ListPodSandboxMetricsRequest()).pod_metrics
    [ours] = [p for p in listed if p.pod_sandbox_id == pod]
    [container] = ours.container_metrics
    assert container.container_id == cid
    got = {}
    for m in container.metrics:
        assert len(m.label_values) == keys[m.name], m
        got.setdefault(m.name, m)
    value = {name: m.value.value for name, m in got.items()}
    assert got["container_processes"].label_values[:2] == ["c", cid]
    assert value["container_processes"] == 3  # sh and its two sleeps
    assert value["container_threads"] >= 3 and value["container_file_descriptors"] >= 3
    assert value["container_spec_memory_limit_bytes"] == 64 << 20
    assert value["container_spec_cpu_period"] == 100000
    assert value["container_spec_cpu_shares"] == 1024
    assert value["container_memory_usage_bytes"] > 0
    assert value["container_fs_usage_bytes"] >= 2 << 20  # the file dd wrote
    assert began - 1 <= value["container_start_time_seconds"] <= int(time.time())
    assert got["container_cpu_usage_seconds_total"].metric_type == pb.COUNTER
    assert got["container_memory_usage_bytes"].metric_type == pb.GAUGE
    failures = [m for m in container.metrics if m.name == "container_memory_failures_total"]
    assert {tuple(m.label_values[-2:]) for m in failures} == {
        ("pgfault", "container"), ("pgmajfault", "container")}


@pytest.mark.usefixtures("network")
def test_pod_network_figures(pods: Cri) -> None:
    """The pod's interfaces (not lo) as the pod's own metrics: what it received grows."""
    pod = run_pod(pods, "net-measured")
    cid = start(pods, pod, "c", "sleep", "1000")
    ip = pods.runtime.PodSandboxStatus(pb.PodSandboxStatusRequest(
        pod_sandbox_id=pod)).status.network.ip

    def received() -> int:
        listed = pods.runtime.ListPodSandboxMetrics(pb.ListPodSandboxMetricsRequest())
        [ours] = [p for p in listed.pod_metrics if p.pod_sandbox_id == pod]
        rx = [m for m in ours.metrics if m.name == "container_network_receive_bytes_total"]
        assert [m.label_values[-1] for m in rx] == ["eth0"]
        assert {m.name for m in ours.metrics} >= {
            "container_network_transmit_packets_total",
            "container_network_receive_packets_dropped_total"}
        return rx[0].value.value

    before = received()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for _ in range(3):
            s.sendto(b"x" * 1000, (ip, 9))  # arrives on eth0 whoever listens
    time.sleep(0.2)
    assert received() >= before + 3000
    assert sh(pods, cid, "true").exit_code == 0
