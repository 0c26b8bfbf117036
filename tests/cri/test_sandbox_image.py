"""Pod sandboxes with a pause image (daemon.json's cri-sandbox-image, containerd's
sandbox_image): pulled through the host's mirrors at the first pod, run as the pod's own
container that holds its namespaces and is pid 1 of its PID namespace, unseen by the
kubelet, held while a pod uses it, and gone with the pod."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from darse.cri.proto import api_pb2 as pb
from tests.cri.conftest import Cri, cri_node
from tests.cri.test_pods import run_pod, sh, start
from tests.cri.test_userns import HOST_ID, run, userns
from tests.daemon import leftover_mounts, new_daemon
from tests.image.conftest import RegistryServer
from tests.ocilayout import Layout, tar_of_dir

PAUSE = "registry.k8s.io/pause:darse-test"


def _pause_image(registry: RegistryServer) -> None:
    """A pause image as Kubernetes builds its own: one static binary, /pause, run as
    65535 (catatonit -P stands in for it)."""
    with tempfile.TemporaryDirectory() as tmp:
        root = os.path.join(tmp, "root")
        os.mkdir(root)
        shutil.copy2("/usr/bin/catatonit", os.path.join(root, "pause"))
        layout = Layout(Path(tmp) / "layout")
        layout.image([tar_of_dir(root)], tag="darse-test", config={"config": {
            "Entrypoint": ["/pause", "-P"], "User": "65535:65535",
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]}})
        registry.push_layout(layout.path, "pause", tag="darse-test")


@pytest.fixture(scope="module")
def paused_node(busybox_rootfs: str, registry: RegistryServer) -> Iterator[Cri]:
    _pause_image(registry)
    with cri_node(busybox_rootfs, {
            "cri-sandbox-image": PAUSE,
            "registry-mirrors-by-host": {"registry.k8s.io": [f"http://{registry.host}"]}},
    ) as client:
        yield client


@pytest.fixture
def paused(paused_node: Cri) -> Iterator[Cri]:
    """The module's darsed with a pause image; every pod a test made is removed after it."""
    yield paused_node
    paused_node.remove_all()


def _pause_pids() -> list[int]:
    out = []
    for name in os.listdir("/proc"):
        try:
            if name.isdigit() and open(f"/proc/{name}/cmdline", "rb").read() == \
                    b"/pause\0-P\0":
                out.append(int(name))
        except OSError:
            continue
    return out


def _readlink(path: str) -> str:
    try:
        return os.readlink(path)
    except OSError:  # a process that ended meanwhile
        return ""


def test_pause_container_holds_the_pod(paused: Cri) -> None:
    image = pb.ImageSpec(image=PAUSE)
    assert not paused.images.ImageStatus(pb.ImageStatusRequest(image=image)).image.id
    before = set(_pause_pids())
    pod = run_pod(paused, "paused")
    # Pulled through the mirror, under its own name, and pinned (the kubelet's image
    # collection leaves it), as containerd's sandbox_image; other images are not.
    got = paused.images.ImageStatus(pb.ImageStatusRequest(image=image)).image
    assert got.id and got.pinned
    assert not paused.images.ImageStatus(pb.ImageStatusRequest(
        image=pb.ImageSpec(image="busybox"))).image.pinned
    [pause] = set(_pause_pids()) - before
    a = start(paused, pod, "a", "sleep", "1000")
    b = start(paused, pod, "b", "sleep", "1000")
    # pid 1 of the pod's PID namespace is the pause process, as its image's user.
    assert sh(paused, a, "cat /proc/1/cmdline").stdout == b"/pause\0-P\0"
    assert sh(paused, b, "stat -c %u:%g /proc/1").stdout == b"65535:65535\n"
    # Its network, IPC, UTS and PID namespaces are the containers'.
    links = "for k in net ipc uts pid; do readlink /proc/self/ns/$k; done"
    inside = sh(paused, a, links).stdout.decode().split()
    assert inside == sh(paused, b, links).stdout.decode().split()
    assert inside == [os.readlink(f"/proc/{pause}/ns/{k}") for k in ("net", "ipc", "uts",
                                                                     "pid")]
    assert sh(paused, a, "hostname").stdout == b"paused\n"
    # The kubelet sees the pod and its two containers, nothing of the pause container.
    [item] = paused.runtime.ListPodSandbox(pb.ListPodSandboxRequest()).items
    assert item.id == pod and item.state == pb.SANDBOX_READY
    assert {c.id for c in paused.runtime.ListContainers(
        pb.ListContainersRequest()).containers} == {a, b}
    status = paused.runtime.PodSandboxStatus(pb.PodSandboxStatusRequest(
        pod_sandbox_id=pod)).status
    assert status.state == pb.SANDBOX_READY and status.metadata.name == "paused"
    # Held while the pod uses it (`docker rmi` refuses, as for a container's image).
    code, out = paused.darsed.api("DELETE", f"/images/{PAUSE}")
    assert code == 409, out
    paused.runtime.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=pod))
    assert pause not in _pause_pids()
    assert paused.runtime.PodSandboxStatus(pb.PodSandboxStatusRequest(
        pod_sandbox_id=pod)).status.state == pb.SANDBOX_NOTREADY
    paused.runtime.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=pod))
    assert not leftover_mounts(str(paused.darsed.base))
    assert not os.path.exists(os.path.join(paused.darsed.data_root, "cri", "sandboxes", pod))


def test_pod_without_shared_pids_still_has_its_pause(paused: Cri) -> None:
    linux = pb.LinuxPodSandboxConfig(security_context=pb.LinuxSandboxSecurityContext(
        namespace_options=pb.NamespaceOption(pid=pb.CONTAINER)))
    pod = run(paused, "own-pids", linux)
    cid = start(paused, pod, "a", "sleep", "1000")
    assert sh(paused, cid, "cat /proc/1/cmdline").stdout == b"sleep\x001000\x00"
    net = sh(paused, cid, "readlink /proc/self/ns/net").stdout.decode().strip()
    assert any(_readlink(f"/proc/{p}/ns/net") == net for p in _pause_pids())


def test_pause_container_makes_the_pods_user_namespace(paused: Cri) -> None:
    pod = run(paused, "paused-userns", userns())
    cid = start(paused, pod, "a", "sleep", "1000")
    assert sh(paused, cid, "cat /proc/self/uid_map").stdout.split() == \
        [b"0", str(HOST_ID).encode(), b"65536"]
    assert sh(paused, cid, "cat /proc/1/cmdline").stdout == b"/pause\0-P\0"
    user = sh(paused, cid, "readlink /proc/self/ns/user").stdout.decode().strip()
    assert any(_readlink(f"/proc/{p}/ns/user") == user for p in _pause_pids())


def test_host_network_pod(paused: Cri) -> None:
    linux = pb.LinuxPodSandboxConfig(security_context=pb.LinuxSandboxSecurityContext(
        namespace_options=pb.NamespaceOption(network=pb.NODE)))
    pod = run(paused, "hostnet", linux)
    cid = start(paused, pod, "a", "sleep", "1000")
    assert sh(paused, cid, "readlink /proc/self/ns/net").stdout.decode().strip() == \
        os.readlink("/proc/self/ns/net")
    paused.runtime.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=pod))
    assert not leftover_mounts(str(paused.darsed.base))


def test_a_pause_image_that_cannot_be_had_fails_the_pod(paused: Cri) -> None:
    """Named, not there, no registry answering for it: the pod is refused and nothing
    of it is left."""
    base = Path(paused.darsed.base)
    config = json.loads((base / "daemon.json").read_text())
    paused.darsed.kill()
    (base / "daemon.json").write_text(json.dumps(
        {**config, "cri-sandbox-image": "registry.k8s.io/pause:not-there"}))
    try:
        paused.darsed.start()
        with pytest.raises(grpc.RpcError) as info:
            run_pod(paused, "nopause")
        assert "pause:not-there" in info.value.details()
        assert not paused.runtime.ListPodSandbox(pb.ListPodSandboxRequest()).items
        assert not leftover_mounts(str(paused.darsed.base))
    finally:
        paused.darsed.kill()
        (base / "daemon.json").write_text(json.dumps(config))
        paused.darsed.start()


def test_pod_whose_pause_died_is_not_ready(paused: Cri) -> None:
    """As containerd says of a pod whose pause container ended: the kubelet then stops it
    and makes it anew."""
    import signal

    pod = run_pod(paused, "pause-killed")
    pin = os.path.join(paused.darsed.exec_root, "cri", "sandboxes", pod, "ns", "net")
    net = f"net:[{os.stat(pin).st_ino}]"
    [pause] = [p for p in _pause_pids() if _readlink(f"/proc/{p}/ns/net") == net]
    os.kill(pause, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while os.path.exists(f"/proc/{pause}/ns") and time.monotonic() < deadline:
        time.sleep(0.02)
    status = paused.runtime.PodSandboxStatus(pb.PodSandboxStatusRequest(pod_sandbox_id=pod))
    assert status.status.state == pb.SANDBOX_NOTREADY
    [item] = paused.runtime.ListPodSandbox(pb.ListPodSandboxRequest()).items
    assert item.state == pb.SANDBOX_NOTREADY
    paused.runtime.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=pod))
    paused.runtime.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=pod))
    assert not leftover_mounts(str(paused.darsed.base))


def test_pause_pods_outlive_a_darsed_restart(paused: Cri) -> None:
    pod = run_pod(paused, "paused-durable")
    a = start(paused, pod, "a", "sleep", "1000")
    before = sh(paused, a, "readlink /proc/1/ns/pid; cat /proc/1/cmdline").stdout
    paused.darsed.kill()
    paused.darsed.start()
    assert paused.runtime.PodSandboxStatus(pb.PodSandboxStatusRequest(
        pod_sandbox_id=pod)).status.state == pb.SANDBOX_READY
    b = start(paused, pod, "b", "sleep", "1000")
    assert sh(paused, b, "readlink /proc/1/ns/pid; cat /proc/1/cmdline").stdout == before


@pytest.mark.parametrize("value", [5, "Not A Reference!"], ids=["number", "bad-name"])
def test_bad_sandbox_image_stops_darsed_at_start(value: object) -> None:
    from tests.conftest import unique_network

    d = new_daemon()
    bridge, bip = unique_network()
    (d.base / "daemon.json").write_text(json.dumps(
        {"bridge": bridge, "bip": bip, "cri-sandbox-image": value}))
    (d.base / "net.d").mkdir()
    d.extra_args = ["--cri-socket", str(d.base / "cri.sock"),
                    "--cni-conf-dir", str(d.base / "net.d")]
    try:
        with pytest.raises(RuntimeError) as info:
            d.start()
        assert "cri-sandbox-image" in str(info.value)
    finally:
        d.stop()
        shutil.rmtree(d.base, ignore_errors=True)
