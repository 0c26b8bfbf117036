"""What a pod container's CRI config asks of its process, seen from inside: user and
groups, read-only rootfs, capabilities, sysctls, resources, the OOM score a host without
CAP_SYS_RESOURCE allows."""

from __future__ import annotations

import json
import subprocess
import time

import grpc
import pytest

from darse.cri.proto import api_pb2 as pb
from tests.cri.conftest import Cri, container_config, pod_config
from tests.cri.test_pods import sh


def _start(cri: Cri, pod: str, cc: pb.ContainerConfig) -> str:
    cid = cri.runtime.CreateContainer(pb.CreateContainerRequest(
        pod_sandbox_id=pod, config=cc)).container_id
    cri.runtime.StartContainer(pb.StartContainerRequest(container_id=cid))
    return cid


def test_user_groups_readonly_rootfs_and_capabilities(pods: Cri) -> None:
    pod = pods.runtime.RunPodSandbox(pb.RunPodSandboxRequest(
        config=pod_config("sec"))).pod_sandbox_id
    cc = container_config("c", "sleep", "1000")
    cc.linux.security_context.CopyFrom(pb.LinuxContainerSecurityContext(
        run_as_user=pb.Int64Value(value=1234), run_as_group=pb.Int64Value(value=5678),
        supplemental_groups=[4242], readonly_rootfs=True,
        capabilities=pb.Capability(drop_capabilities=["ALL"],
                                   add_capabilities=["NET_BIND_SERVICE"])))
    cid = _start(pods, pod, cc)
    got = sh(pods, cid, "id -u; id -g; id -G")
    assert got.stdout == b"1234\n5678\n5678 4242\n", got
    r = sh(pods, cid, "touch /x")
    assert r.exit_code != 0 and b"Read-only file system" in r.stderr
    bnd = sh(pods, cid, "grep CapBnd /proc/self/status").stdout.split()[1]
    assert int(bnd, 16) == 1 << 10  # CAP_NET_BIND_SERVICE alone


def test_sysctls_resources_and_oom_score(pods: Cri) -> None:
    pod = pods.runtime.RunPodSandbox(pb.RunPodSandboxRequest(config=pod_config(
        "tuned", sysctls={"net.ipv4.ip_unprivileged_port_start": "80"}))).pod_sandbox_id
    cc = container_config("c", "sleep", "1000")
    cc.linux.resources.CopyFrom(pb.LinuxContainerResources(
        memory_limit_in_bytes=64 * 1024 * 1024, cpu_shares=512, oom_score_adj=-997))
    cid = pods.runtime.CreateContainer(pb.CreateContainerRequest(
        pod_sandbox_id=pod, config=cc,
        sandbox_config=pod_config("tuned"))).container_id
    pods.runtime.StartContainer(pb.StartContainerRequest(container_id=cid))
    assert sh(pods, cid, "cat /proc/sys/net/ipv4/ip_unprivileged_port_start").stdout == \
        b"80\n"
    with open("/proc/self/oom_score_adj") as f:
        ours = int(f.read())
    score = int(sh(pods, cid, "cat /proc/self/oom_score_adj").stdout)
    assert score == (-997 if _has_sys_resource() else ours)
    limit = sh(pods, cid, "cat /sys/fs/cgroup/memory/memory.limit_in_bytes "
                          "/sys/fs/cgroup/memory.max 2>/dev/null").stdout.split()
    assert limit[0] == str(64 * 1024 * 1024).encode()


def _has_sys_resource() -> bool:
    with open("/proc/self/status") as f:
        eff = next(int(line.split()[1], 16) for line in f if line.startswith("CapEff"))
    return bool(eff & (1 << 24))


def test_container_stats(pods: Cri) -> None:
    pod = pods.runtime.RunPodSandbox(pb.RunPodSandboxRequest(
        config=pod_config("stats"))).pod_sandbox_id
    cid = _start(pods, pod, container_config(
        "busy", "sh", "-c", "dd if=/dev/zero of=/big bs=1M count=3; "
        "while :; do :; done"))
    time.sleep(1)
    s = pods.runtime.ContainerStats(pb.ContainerStatsRequest(container_id=cid)).stats
    assert s.attributes.id == cid and s.attributes.metadata.name == "busy"
    assert s.cpu.usage_core_nano_seconds.value > 100_000_000  # a busy loop for ~1 s
    assert s.memory.usage_bytes.value > 0
    assert s.writable_layer.used_bytes.value >= 3 * 1024 * 1024
    listed = pods.runtime.ListContainerStats(pb.ListContainerStatsRequest(
        filter=pb.ContainerStatsFilter(pod_sandbox_id=pod))).stats
    assert [x.attributes.id for x in listed] == [cid]


def test_update_container_resources(pods: Cri) -> None:
    pod = pods.runtime.RunPodSandbox(pb.RunPodSandboxRequest(
        config=pod_config("resize"))).pod_sandbox_id
    cc = container_config("c", "sleep", "1000")
    cc.linux.resources.CopyFrom(pb.LinuxContainerResources(memory_limit_in_bytes=64 << 20))
    cid = _start(pods, pod, cc)
    read = "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max " \
           "/sys/fs/cgroup/cpu/cpu.shares 2>/dev/null"
    assert sh(pods, cid, read).stdout.split()[0] == str(64 << 20).encode()
    pods.runtime.UpdateContainerResources(pb.UpdateContainerResourcesRequest(
        container_id=cid, linux=pb.LinuxContainerResources(memory_limit_in_bytes=128 << 20,
                                                          cpu_shares=256)))
    values = sh(pods, cid, read).stdout.split()
    assert values[0] == str(128 << 20).encode()
    assert values[-1] == b"256" or len(values) == 1  # cpu.shares where cgroup v1 shows it
    # Devices the container could open before still open after the update.
    assert sh(pods, cid, "echo hi >/dev/null && head -c1 /dev/zero | wc -c").stdout == b"1\n"
    status = pods.runtime.ContainerStatus(pb.ContainerStatusRequest(container_id=cid)).status
    assert status.state == pb.CONTAINER_RUNNING
    assert status.resources.linux.memory_limit_in_bytes == 128 << 20


def test_host_path_mounts(pods: Cri, tmp_path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "from-host").write_text("hello\n")
    (shared / "later").mkdir()
    # A shared mount on the host, as /var/lib/kubelet is where propagation is used.
    subprocess.run(["mount", "--bind", str(shared), str(shared)], check=True)
    subprocess.run(["mount", "--make-shared", str(shared)], check=True)
    try:
        _mounts(pods, tmp_path, shared)
    finally:
        subprocess.run(["umount", "-R", str(shared)], check=False)


def _mounts(pods: Cri, tmp_path, shared) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    pod = pods.runtime.RunPodSandbox(pb.RunPodSandboxRequest(
        config=pod_config("mounts"))).pod_sandbox_id
    cc = container_config("c", "sleep", "1000")
    cc.mounts.extend([
        pb.Mount(container_path="/data", host_path=str(shared),
                 propagation=pb.PROPAGATION_HOST_TO_CONTAINER),
        pb.Mount(container_path="/config", host_path=str(ro), readonly=True)])
    cid = _start(pods, pod, cc)
    assert sh(pods, cid, "cat /data/from-host; echo back >/data/from-pod").exit_code == 0
    assert (shared / "from-pod").read_text() == "back\n"
    r = sh(pods, cid, "touch /config/x")
    assert r.exit_code != 0 and b"Read-only file system" in r.stderr
    # HOST_TO_CONTAINER: what the host mounts there later shows inside.
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "later", str(shared / "later")],
                   check=True)
    assert b"tmpfs" in sh(pods, cid, "grep ' /data/later ' /proc/self/mountinfo").stdout
    # A host path that is not there: refused at create, nothing recorded.
    bad = container_config("bad", "true")
    bad.mounts.append(pb.Mount(container_path="/x", host_path=str(tmp_path / "nope")))
    before = len(pods.runtime.ListContainers(pb.ListContainersRequest()).containers)
    with pytest.raises(grpc.RpcError) as info:
        pods.runtime.CreateContainer(pb.CreateContainerRequest(pod_sandbox_id=pod, config=bad))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert len(pods.runtime.ListContainers(pb.ListContainersRequest()).containers) == before


def test_bidirectional_mount_reaches_the_host(pods: Cri, tmp_path) -> None:
    """critest's spec: a shared host folder mounted BIDIRECTIONAL into a privileged
    container; a mount made inside under it is seen on the host (the container would not
    start: EINVAL from pivot_root, its overlay rootfs left shared)."""
    shared = tmp_path / "both"
    shared.mkdir()
    (shared / "in").mkdir()
    subprocess.run(["mount", "--bind", str(shared), str(shared)], check=True)
    subprocess.run(["mount", "--make-shared", str(shared)], check=True)
    try:
        pod = pods.runtime.RunPodSandbox(pb.RunPodSandboxRequest(
            config=pod_config("both"))).pod_sandbox_id
        cc = container_config("c", "sleep", "1000")
        cc.linux.security_context.privileged = True
        cc.mounts.append(pb.Mount(container_path="/both", host_path=str(shared),
                                  propagation=pb.PROPAGATION_BIDIRECTIONAL))
        cid = _start(pods, pod, cc)
        r = sh(pods, cid, "mount -t tmpfs -o size=1m inside /both/in")
        assert r.exit_code == 0, r
        seen = [line.split() for line in open("/proc/self/mountinfo")]
        assert any(f[4] == str(shared / "in") and "inside" in f for f in seen), \
            "the container's mount did not reach the host"
        pods.remove_all()
    finally:
        subprocess.run(["umount", "-R", str(shared)], check=False)


def test_oom_killed_reason(pods: Cri) -> None:
    pod = pods.runtime.RunPodSandbox(pb.RunPodSandboxRequest(
        config=pod_config("oom"))).pod_sandbox_id
    cc = container_config("hog", "sh", "-c", "x=$(head -c 100000000 /dev/zero | tr '\\0' a)")
    cc.linux.resources.CopyFrom(pb.LinuxContainerResources(memory_limit_in_bytes=16 << 20,
                                                           memory_swap_limit_in_bytes=16 << 20))
    cid = _start(pods, pod, cc)
    deadline = time.monotonic() + 30
    while (status := pods.runtime.ContainerStatus(pb.ContainerStatusRequest(
            container_id=cid)).status).state != pb.CONTAINER_EXITED:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert status.reason == "OOMKilled" and status.exit_code == 137, status
    # A plain failure is not one.
    other = _start(pods, pod, container_config("fails", "sh", "-c", "exit 2"))
    deadline = time.monotonic() + 10
    while (status := pods.runtime.ContainerStatus(pb.ContainerStatusRequest(
            container_id=other)).status).state != pb.CONTAINER_EXITED:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert status.reason == "Error"


def test_seccomp_profiles(pods: Cri, tmp_path) -> None:
    """RuntimeDefault is Docker's profile, Unconfined none, Localhost the node's file."""
    profile = tmp_path / "no-mkdir.json"
    profile.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}))
    pod = pods.runtime.RunPodSandbox(pb.RunPodSandboxRequest(
        config=pod_config("seccomp"))).pod_sandbox_id
    modes = {}
    for name, sp in (("default", pb.SecurityProfile()),
                     ("unconfined", pb.SecurityProfile(
                         profile_type=pb.SecurityProfile.Unconfined)),
                     ("local", pb.SecurityProfile(profile_type=pb.SecurityProfile.Localhost,
                                                  localhost_ref=str(profile))),
                     ("none", None)):
        cc = container_config(name, "sleep", "1000")
        if sp is not None:
            cc.linux.security_context.seccomp.SetInParent()  # named, even if RuntimeDefault
            cc.linux.security_context.seccomp.MergeFrom(sp)
        else:
            cc.linux.security_context.SetInParent()
        modes[name] = _start(pods, pod, cc)
    field = "grep Seccomp: /proc/self/status"
    assert sh(pods, modes["default"], field).stdout.split()[1] == b"2"
    assert sh(pods, modes["unconfined"], field).stdout.split()[1] == b"0"
    # No profile named at all: unconfined, as containerd reads it (critest checks it).
    assert sh(pods, modes["none"], field).stdout.split()[1] == b"0"
    assert sh(pods, modes["default"], "mkdir /tmp/d").exit_code == 0
    r = sh(pods, modes["local"], "mkdir /tmp/d")
    assert r.exit_code != 0 and b"Operation not permitted" in r.stderr


def test_run_as_group_needs_a_user(pods: Cri) -> None:
    pod = pods.runtime.RunPodSandbox(pb.RunPodSandboxRequest(
        config=pod_config("group-only"))).pod_sandbox_id
    cc = container_config("c", "id")
    cc.linux.security_context.run_as_group.value = 1002
    with pytest.raises(grpc.RpcError) as info:
        pods.runtime.CreateContainer(pb.CreateContainerRequest(pod_sandbox_id=pod, config=cc))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert pods.runtime.ListContainers(pb.ListContainersRequest()).containers == []
