"""User namespaces (NamespaceOption.userns_options, KEP-127): a pod of mode POD is one user
namespace with the kubelet's mappings, shared by its containers, which see the image's
files as their root's (idmapped layers); NODE is the host's; what the CRI leaves to the
runtime to refuse is refused with nothing made."""

from __future__ import annotations

import os

import grpc
import pytest

from darse.cri.proto import api_pb2 as pb
from tests.cri.conftest import Cri, container_config, pod_config
from tests.cri.test_pods import sh, start
from tests.daemon import leftover_mounts

HOST_ID = 3_000_000  # far above the host's users and darse's userns-remap range


def userns(mode: int = pb.POD, uids: list | None = None, gids: list | None = None
           ) -> pb.LinuxPodSandboxConfig:
    one = [pb.IDMapping(container_id=0, host_id=HOST_ID, length=65536)]
    options = pb.UserNamespace(mode=mode, uids=one if uids is None else uids,
                               gids=one if gids is None else gids)
    if mode != pb.POD:
        options = pb.UserNamespace(mode=mode, uids=uids or [], gids=gids or [])
    return pb.LinuxPodSandboxConfig(security_context=pb.LinuxSandboxSecurityContext(
        namespace_options=pb.NamespaceOption(userns_options=options)))


def run(cri: Cri, name: str, linux: pb.LinuxPodSandboxConfig) -> str:
    config = pod_config(name)
    config.linux.CopyFrom(linux)
    return cri.runtime.RunPodSandbox(pb.RunPodSandboxRequest(config=config)).pod_sandbox_id


def _host_pids_in(ns_link: str, kind: str) -> list[int]:
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if os.readlink(f"/proc/{name}/ns/{kind}") == ns_link:
                    out.append(int(name))
            except OSError:
                continue
    return out


def test_status_says_user_namespaces(cri: Cri) -> None:
    status = cri.runtime.Status(pb.StatusRequest())
    [handler] = status.runtime_handlers
    assert handler.name == "" and handler.features.user_namespaces


def test_pod_mode_maps_the_pods_root(pods: Cri) -> None:
    pod = run(pods, "userns", userns())
    a = start(pods, pod, "a", "sleep", "1000")
    b = start(pods, pod, "b", "sleep", "1000")
    assert sh(pods, a, "cat /proc/self/uid_map").stdout.split() == \
        [b"0", str(HOST_ID).encode(), b"65536"]
    assert sh(pods, a, "cat /proc/self/gid_map").stdout.split() == \
        [b"0", str(HOST_ID).encode(), b"65536"]
    # One user namespace for the pod, not the host's; its network, IPC and UTS namespaces
    # are the pod's too.
    links = "for k in user net ipc uts pid; do readlink /proc/self/ns/$k; done"
    in_a, in_b = sh(pods, a, links).stdout.split(), sh(pods, b, links).stdout.split()
    assert in_a == in_b and len(in_a) == 5
    assert in_a[0] != os.readlink("/proc/self/ns/user").encode()
    assert sh(pods, a, "hostname").stdout == b"userns\n"
    # Its root is root inside, HOST_ID outside.
    assert sh(pods, a, "id -u; id -g").stdout == b"0\n0\n"
    [pid] = [p for p in _host_pids_in(in_a[0].decode(), "user")
             if open(f"/proc/{p}/cmdline", "rb").read().startswith(b"sleep")][:1]
    uids = next(line for line in open(f"/proc/{pid}/status") if line.startswith("Uid:"))
    assert uids.split()[1:] == [str(HOST_ID)] * 4
    # The image's files are its root's (idmapped layers, nothing copied), and it writes
    # where root may: files it makes are HOST_ID's on the host.
    assert sh(pods, a, "stat -c %u:%g /bin/busybox /etc").stdout == b"0:0\n0:0\n"
    made = sh(pods, a, "echo hi > /etc/made-here && chown 5:6 /etc/made-here && "
                       "stat -c %u:%g /etc/made-here")
    assert made.exit_code == 0 and made.stdout == b"5:6\n", made
    upper = os.path.join(pods.darsed.data_root, "cri", "containers",
                         pods.runtime.ContainerStatus(pb.ContainerStatusRequest(
                             container_id=a)).status.id, "upper", "etc", "made-here")
    st = os.stat(upper)
    assert (st.st_uid, st.st_gid) == (HOST_ID + 5, HOST_ID + 6)
    # Root of the pod is no one on the host: a host root's file it is given stays closed.
    secret = pods.darsed.base / "secret"
    secret.mkdir(mode=0o755)
    (secret / "key").write_text("host root's\n")
    (secret / "key").chmod(0o600)
    cc = container_config("c", "sleep", "1000")
    cc.mounts.append(pb.Mount(container_path="/host", host_path=str(secret), readonly=True))
    c = pods.runtime.CreateContainer(pb.CreateContainerRequest(
        pod_sandbox_id=pod, config=cc)).container_id
    pods.runtime.StartContainer(pb.StartContainerRequest(container_id=c))
    denied = sh(pods, c, "cat /host/key")
    assert denied.exit_code != 0 and b"Permission denied" in denied.stderr, denied


def test_pod_mode_is_gone_with_the_pod(pods: Cri) -> None:
    pod = run(pods, "userns-gone", userns())
    cid = start(pods, pod, "a", "sleep", "1000")
    user = sh(pods, cid, "readlink /proc/self/ns/user").stdout.decode().strip()
    assert _host_pids_in(user, "user")
    pods.runtime.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=pod))
    assert not _host_pids_in(user, "user")
    pods.runtime.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=pod))
    assert not leftover_mounts(str(pods.darsed.base))


def test_node_mode_is_the_hosts(pods: Cri) -> None:
    pod = run(pods, "userns-node", userns(mode=pb.NODE))
    cid = start(pods, pod, "a", "sleep", "1000")
    assert sh(pods, cid, "readlink /proc/self/ns/user").stdout.strip() == \
        os.readlink("/proc/self/ns/user").encode()
    with open("/proc/self/uid_map") as f:
        assert sh(pods, cid, "cat /proc/self/uid_map").stdout.split() == \
            [x.encode() for x in f.read().split()]


@pytest.mark.parametrize("linux", [
    userns(uids=[pb.IDMapping(container_id=0, host_id=HOST_ID, length=65536),
                 pb.IDMapping(container_id=0, host_id=HOST_ID + 70000, length=65536)]),
    userns(uids=[pb.IDMapping(container_id=1, host_id=HOST_ID, length=65536)],
           gids=[pb.IDMapping(container_id=1, host_id=HOST_ID, length=65536)]),
    userns(mode=pb.CONTAINER),
    userns(mode=pb.TARGET),
    userns(uids=[]),
], ids=["two-mappings", "zero-unmapped", "container-mode", "target-mode", "no-uid-mapping"])
def test_refused_with_nothing_made(pods: Cri, linux: pb.LinuxPodSandboxConfig) -> None:
    with pytest.raises(grpc.RpcError) as info:
        run(pods, "userns-bad", linux)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "user namespace" in info.value.details()
    assert not pods.runtime.ListPodSandbox(pb.ListPodSandboxRequest()).items
    assert not leftover_mounts(str(pods.darsed.base))


def test_pod_outlives_a_darsed_restart(pods: Cri) -> None:
    """darsed's start closes its data root again: a container made after it in a pod of
    its own user namespace must still reach its rootfs."""
    pod = run(pods, "userns-durable", userns())
    a = start(pods, pod, "a", "sleep", "1000")
    before = sh(pods, a, "readlink /proc/self/ns/user; readlink /proc/1/ns/pid").stdout
    pods.darsed.kill()
    pods.darsed.start()
    b = start(pods, pod, "b", "sleep", "1000")
    assert sh(pods, b, "readlink /proc/self/ns/user; readlink /proc/1/ns/pid").stdout == \
        before
    assert sh(pods, a, "readlink /proc/self/ns/user; readlink /proc/1/ns/pid").stdout == \
        before


def _volume_pod(pods: Cri, name: str) -> tuple[str, str]:
    """A pod of its own user namespace and a host folder of root's, as the kubelet makes
    a pod's volumes (a file only root may read or write)."""
    pod = run(pods, name, userns())
    folder = pods.darsed.base / f"volume-{name}"
    folder.mkdir(mode=0o755)
    (folder / "data").write_text("kubelet's\n")
    (folder / "data").chmod(0o600)
    return pod, str(folder)


def _with_volume(folder: str, mapping: list[pb.IDMapping]) -> pb.ContainerConfig:
    cc = container_config("v", "sleep", "1000")
    cc.mounts.append(pb.Mount(container_path="/vol", host_path=folder,
                              uidMappings=mapping, gidMappings=mapping))
    return cc


def test_idmapped_volume_is_the_pods_roots(pods: Cri) -> None:
    pod, folder = _volume_pod(pods, "userns-volume")
    mapping = [pb.IDMapping(container_id=0, host_id=HOST_ID, length=65536)]
    cid = pods.runtime.CreateContainer(pb.CreateContainerRequest(
        pod_sandbox_id=pod, config=_with_volume(folder, mapping))).container_id
    pods.runtime.StartContainer(pb.StartContainerRequest(container_id=cid))
    got = sh(pods, cid, "stat -c %u:%g /vol/data; cat /vol/data; echo more >> /vol/data; "
                        "touch /vol/new && stat -c %u /vol/new")
    assert got.exit_code == 0 and got.stdout == b"0:0\nkubelet's\n0\n", got
    # On the host, what it wrote is root's, as the kubelet's own files.
    assert os.stat(os.path.join(folder, "new")).st_uid == 0
    assert open(os.path.join(folder, "data")).read() == "kubelet's\nmore\n"
    pods.runtime.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=pod))
    assert not leftover_mounts(str(pods.darsed.base))


def test_idmapped_volume_of_other_mappings_refused(pods: Cri) -> None:
    pod, folder = _volume_pod(pods, "userns-volume-other")
    other = [pb.IDMapping(container_id=0, host_id=HOST_ID + 65536, length=65536)]
    with pytest.raises(grpc.RpcError) as info:
        pods.runtime.CreateContainer(pb.CreateContainerRequest(
            pod_sandbox_id=pod, config=_with_volume(folder, other)))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "mappings other than the pod's" in info.value.details()
    assert not pods.runtime.ListContainers(pb.ListContainersRequest()).containers
    assert not [m for m in leftover_mounts(str(pods.darsed.base)) if "/containers/" in m]


def test_image_volume_is_the_pods_roots(pods: Cri) -> None:
    """An image volume (Mount.image) in such a pod: its files are the pod root's, as the
    container's own image's are."""
    pod = run(pods, "userns-image-volume", userns())
    cc = container_config("c", "sleep", "1000")
    cc.mounts.append(pb.Mount(container_path="/mnt/image-volume",
                              image=pb.ImageSpec(image="busybox"), readonly=True))
    cid = pods.runtime.CreateContainer(pb.CreateContainerRequest(
        pod_sandbox_id=pod, config=cc)).container_id
    pods.runtime.StartContainer(pb.StartContainerRequest(container_id=cid))
    got = sh(pods, cid, "stat -c %u:%g /mnt/image-volume/bin/busybox /mnt/image-volume/etc")
    assert got.stdout == b"0:0\n0:0\n", got
    assert sh(pods, cid, "touch /mnt/image-volume/x").exit_code != 0
    pods.runtime.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=pod))
    assert not leftover_mounts(str(pods.darsed.base))


def test_pod_outlives_a_shim_death(pods: Cri) -> None:
    """darse-shim killed: the new one takes the pod's own container (its catatonit) back
    with the others, and the pod goes on in one PID and user namespace."""
    import signal
    import time

    pod = run(pods, "userns-shim-death", userns())
    a = start(pods, pod, "a", "sleep", "1000")
    links = "readlink /proc/1/ns/pid; readlink /proc/self/ns/user"
    before = sh(pods, a, links).stdout
    shim_pid = os.path.join(pods.darsed.exec_root, "shim.pid")
    old = int(open(shim_pid).read())
    os.kill(old, signal.SIGKILL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if int(open(shim_pid).read()) != old and sh(pods, a, links).stdout == before:
                break
        except (OSError, ValueError, grpc.RpcError):
            pass
        time.sleep(0.1)
    assert sh(pods, a, links).stdout == before
    assert pods.runtime.PodSandboxStatus(pb.PodSandboxStatusRequest(
        pod_sandbox_id=pod)).status.state == pb.SANDBOX_READY
    b = start(pods, pod, "b", "sleep", "1000")
    assert sh(pods, b, links).stdout == before
    pods.runtime.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=pod))
    assert not leftover_mounts(str(pods.darsed.base))
