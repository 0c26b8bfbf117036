"""Pod sandboxes and their containers through the CRI, checked from inside the
containers (ExecSync) and on the host: shared namespaces, the pod's /etc files, logs in
the CRI format, and nothing left once the pod is removed."""

from __future__ import annotations

import json
import os
import re
import time

import grpc
import pytest

from darse.cri.proto import api_pb2 as pb
from tests.cri.conftest import Cri, container_config, pod_config
from tests.daemon import leftover_mounts


def run_pod(cri: Cri, name: str, **kw: object) -> str:
    return cri.runtime.RunPodSandbox(pb.RunPodSandboxRequest(
        config=pod_config(name, **kw))).pod_sandbox_id


def start(cri: Cri, pod: str, name: str, *cmd: str, config: pb.PodSandboxConfig | None = None,
          log_path: str = "") -> str:
    cid = cri.runtime.CreateContainer(pb.CreateContainerRequest(
        pod_sandbox_id=pod, config=container_config(name, *cmd, log_path=log_path),
        sandbox_config=config)).container_id
    cri.runtime.StartContainer(pb.StartContainerRequest(container_id=cid))
    return cid


def sh(cri: Cri, cid: str, script: str, timeout: int = 10) -> pb.ExecSyncResponse:
    return cri.runtime.ExecSync(pb.ExecSyncRequest(container_id=cid, cmd=["sh", "-c", script],
                                                   timeout=timeout))


def test_two_containers_share_the_pods_namespaces(pods: Cri) -> None:
    pod = run_pod(pods, "web")
    a = start(pods, pod, "a", "sh", "-c",
              "echo hello-from-a >/tmp/index.html; exec httpd -f -p 8080 -h /tmp")
    b = start(pods, pod, "b", "sleep", "1000")
    links = "for k in net ipc uts pid; do readlink /proc/self/ns/$k; done"
    in_a = sh(pods, a, links).stdout.decode().split()
    in_b = sh(pods, b, links).stdout.decode().split()
    assert len(in_a) == len(in_b) == 4, (in_a, in_b)
    assert in_a == in_b  # network, IPC, UTS, and PID (the mode these configs leave: POD)
    # One PID namespace: b sees a's server, and pid 1 is the pod's, not a container's.
    ps = sh(pods, b, "ps -o pid,comm").stdout.decode()
    assert "httpd" in ps and ps.splitlines()[1].split()[1] in ("catatonit", "darse-pod-init")
    host = [os.readlink(f"/proc/self/ns/{k}") for k in ("net", "ipc", "uts")]
    assert all(x != y for x, y in zip(in_a[:3], host, strict=True))
    assert sh(pods, a, "hostname").stdout == b"web\n"
    assert sh(pods, b, "cat /etc/hostname").stdout == b"web\n"
    # One network: a server in a answers b on the pod's loopback.
    got = sh(pods, b, "for i in 1 2 3 4 5 6 7 8 9 10; do "
                      "wget -qO- http://127.0.0.1:8080/index.html && break; sleep 0.2; done")
    assert got.stdout == b"hello-from-a\n", got


def test_pid_namespace_of_each_container(pods: Cri) -> None:
    """The kubelet's default: PID namespace CONTAINER, each container its own."""
    own = pb.NamespaceOption(pid=pb.CONTAINER)
    config = pod_config("pids", security_context=pb.LinuxSandboxSecurityContext(
        namespace_options=own))
    pod = pods.runtime.RunPodSandbox(pb.RunPodSandboxRequest(config=config)).pod_sandbox_id
    ids = []
    for name in ("a", "b"):
        cc = container_config(name, "sleep", "1000")
        cc.linux.security_context.namespace_options.CopyFrom(own)
        ids.append(pods.runtime.CreateContainer(pb.CreateContainerRequest(
            pod_sandbox_id=pod, config=cc, sandbox_config=config)).container_id)
        pods.runtime.StartContainer(pb.StartContainerRequest(container_id=ids[-1]))
    links = [sh(pods, c, "readlink /proc/self/ns/pid; readlink /proc/self/ns/net").stdout
             for c in ids]
    assert links[0].split()[0] != links[1].split()[0]
    assert links[0].split()[1] == links[1].split()[1]
    assert sh(pods, ids[0], "ps -o pid,comm").stdout.decode().split()[2:4] == ["1", "sleep"]


def test_exec_sync_exit_code_stderr_and_timeout(pods: Cri) -> None:
    pod = run_pod(pods, "execs")
    cid = start(pods, pod, "c", "sleep", "1000")
    r = sh(pods, cid, "echo out; echo err >&2; exit 3")
    assert (r.stdout, r.stderr, r.exit_code) == (b"out\n", b"err\n", 3)
    began = time.monotonic()
    with pytest.raises(grpc.RpcError) as info:
        sh(pods, cid, "sleep 30", timeout=1)
    assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert time.monotonic() - began < 10


def test_exec_sync_of_what_cannot_run_says_why(pods: Cri) -> None:
    """A file found but not runnable (a masked path is /dev/null): the reason on stderr
    and a shell's 126, not a silent exit 1."""
    pod = run_pod(pods, "noexec")
    cc = container_config("c", "sleep", "1000")
    cc.linux.security_context.masked_paths.append("/etc/group")
    cid = pods.runtime.CreateContainer(pb.CreateContainerRequest(
        pod_sandbox_id=pod, config=cc)).container_id
    pods.runtime.StartContainer(pb.StartContainerRequest(container_id=cid))
    for path in ("/etc/passwd", "/etc/group"):
        r = pods.runtime.ExecSync(pb.ExecSyncRequest(container_id=cid, cmd=[path],
                                                     timeout=10))
        assert r.exit_code == 126, r
        assert f'exec: "{path}": permission denied'.encode() in r.stderr, r


def test_dns_config_and_env(pods: Cri) -> None:
    config = pod_config("dns")
    config.dns_config.CopyFrom(pb.DNSConfig(servers=["10.96.0.10"], searches=[
        "default.svc.cluster.local", "svc.cluster.local"], options=["ndots:5"]))
    pod = pods.runtime.RunPodSandbox(pb.RunPodSandboxRequest(config=config)).pod_sandbox_id
    cc = container_config("c", "sleep", "1000")
    cc.envs.append(pb.KeyValue(key="GREETING", value=b"hello pod"))
    cc.working_dir = "/srv/app"
    cid = pods.runtime.CreateContainer(pb.CreateContainerRequest(
        pod_sandbox_id=pod, config=cc, sandbox_config=config)).container_id
    pods.runtime.StartContainer(pb.StartContainerRequest(container_id=cid))
    assert sh(pods, cid, "cat /etc/resolv.conf").stdout.decode() == (
        "nameserver 10.96.0.10\nsearch default.svc.cluster.local svc.cluster.local\n"
        "options ndots:5\n")
    assert sh(pods, cid, 'echo "$GREETING"; pwd').stdout == b"hello pod\n/srv/app\n"


def test_logs_in_cri_format(pods: Cri, tmp_path) -> None:
    logs = tmp_path / "pods" / "default_logs_uid"
    pod = run_pod(pods, "logs", log_dir=str(logs))
    cid = start(pods, pod, "c", "sh", "-c", "echo first; echo oops >&2; printf partial",
                log_path="c/0.log")
    deadline = time.monotonic() + 10
    while pods.runtime.ContainerStatus(pb.ContainerStatusRequest(
            container_id=cid)).status.state != pb.CONTAINER_EXITED:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    status = pods.runtime.ContainerStatus(pb.ContainerStatusRequest(container_id=cid)).status
    assert status.log_path == str(logs / "c" / "0.log")
    lines = (logs / "c" / "0.log").read_text().splitlines()
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z"
    assert [re.sub(stamp, "T", line) for line in sorted(lines, key=lambda x: x.split()[1])] \
        in (["T stderr F oops", "T stdout F first", "T stdout F partial"],)
    assert all(re.match(stamp + " ", line) for line in lines)


def test_exit_codes_and_states(pods: Cri) -> None:
    pod = run_pod(pods, "exits")
    cid = pods.runtime.CreateContainer(pb.CreateContainerRequest(
        pod_sandbox_id=pod, config=container_config("c", "sh", "-c", "exit 7"))).container_id
    status = pods.runtime.ContainerStatus(pb.ContainerStatusRequest(container_id=cid)).status
    assert status.state == pb.CONTAINER_CREATED and status.started_at == 0
    pods.runtime.StartContainer(pb.StartContainerRequest(container_id=cid))
    deadline = time.monotonic() + 10
    while (status := pods.runtime.ContainerStatus(pb.ContainerStatusRequest(
            container_id=cid)).status).state != pb.CONTAINER_EXITED:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert status.exit_code == 7 and status.reason == "Error"
    assert status.created_at <= status.started_at <= status.finished_at
    listed = pods.runtime.ListContainers(pb.ListContainersRequest(filter=pb.ContainerFilter(
        pod_sandbox_id=pod))).containers
    assert [(c.id, c.state) for c in listed] == [(cid, pb.CONTAINER_EXITED)]
    running = pods.runtime.ListContainers(pb.ListContainersRequest(filter=pb.ContainerFilter(
        state=pb.ContainerStateValue(state=pb.CONTAINER_RUNNING)))).containers
    assert cid not in [c.id for c in running]


def test_stop_container_with_its_signal(pods: Cri) -> None:
    pod = run_pod(pods, "stops")
    cid = start(pods, pod, "c", "sh", "-c", "trap 'exit 42' TERM; while :; do sleep 0.1; done")
    time.sleep(0.3)
    began = time.monotonic()
    pods.runtime.StopContainer(pb.StopContainerRequest(container_id=cid, timeout=10))
    assert time.monotonic() - began < 5
    status = pods.runtime.ContainerStatus(pb.ContainerStatusRequest(container_id=cid)).status
    assert (status.state, status.exit_code) == (pb.CONTAINER_EXITED, 42)
    # SIGKILL after the timeout when the signal is ignored.
    cid2 = start(pods, pod, "d", "sh", "-c", "trap '' TERM; while :; do sleep 0.1; done")
    time.sleep(0.3)
    pods.runtime.StopContainer(pb.StopContainerRequest(container_id=cid2, timeout=1))
    status = pods.runtime.ContainerStatus(pb.ContainerStatusRequest(container_id=cid2)).status
    assert (status.state, status.exit_code) == (pb.CONTAINER_EXITED, 137)


def test_pod_listing_and_status(pods: Cri) -> None:
    pod = run_pod(pods, "listed")
    status = pods.runtime.PodSandboxStatus(pb.PodSandboxStatusRequest(pod_sandbox_id=pod))
    assert status.status.state == pb.SANDBOX_READY
    assert status.status.metadata.name == "listed" and status.status.labels["app"] == "listed"
    assert [p.id for p in pods.runtime.ListPodSandbox(pb.ListPodSandboxRequest(
        filter=pb.PodSandboxFilter(label_selector={"app": "listed"}))).items] == [pod]
    with pytest.raises(grpc.RpcError) as info:
        run_pod(pods, "listed")  # the same metadata: the name is taken
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    pods.runtime.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=pod))
    ready = pods.runtime.ListPodSandbox(pb.ListPodSandboxRequest(filter=pb.PodSandboxFilter(
        state=pb.PodSandboxStateValue(state=pb.SANDBOX_READY)))).items
    assert pod not in [p.id for p in ready]
    assert pods.runtime.PodSandboxStatus(pb.PodSandboxStatusRequest(
        pod_sandbox_id=pod)).status.state == pb.SANDBOX_NOTREADY


def test_docker_api_does_not_list_pods(pods: Cri) -> None:
    pod = run_pod(pods, "hidden")
    start(pods, pod, "c", "sleep", "1000")
    status, out = pods.darsed.api("GET", "/containers/json?all=1")
    assert status == 200 and json.loads(out) == []


def test_host_network_pod(pods: Cri) -> None:
    pod = pods.runtime.RunPodSandbox(pb.RunPodSandboxRequest(config=pod_config(
        "hostnet", security_context=pb.LinuxSandboxSecurityContext(
            namespace_options=pb.NamespaceOption(network=pb.NODE))))).pod_sandbox_id
    cid = start(pods, pod, "c", "sleep", "1000")
    links = sh(pods, cid, "readlink /proc/self/ns/net; readlink /proc/self/ns/uts").stdout.split()
    assert links[0].decode() == os.readlink("/proc/self/ns/net")
    assert links[1].decode() == os.readlink("/proc/self/ns/uts")
    assert sh(pods, cid, "hostname").stdout.decode().strip() == os.uname().nodename


def test_stop_and_remove_leave_nothing(pods: Cri) -> None:
    pod = run_pod(pods, "gone")
    a = start(pods, pod, "a", "sleep", "1000")
    b = start(pods, pod, "b", "sleep", "1000")
    pid = pods.runtime.ContainerStatus(pb.ContainerStatusRequest(container_id=a)).status
    base = str(pods.darsed.base)
    assert any(pod in m for m in leftover_mounts(base))  # the pinned namespaces
    pids = [int(p) for p in os.listdir("/proc") if p.isdigit() and _in_pod(int(p), pod)]
    assert len(pids) == 2, pid
    pid_ns = os.readlink(f"/proc/{pids[0]}/ns/pid")
    inits = [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) not in pids
             and _ns(int(p), "pid") == pid_ns]
    assert len(inits) == 1
    pods.runtime.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=pod))
    for p in pids + inits:
        assert not os.path.exists(f"/proc/{p}") or _zombie(p)
    assert not [m for m in leftover_mounts(base) if pod in m]
    pods.runtime.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=pod))  # again: fine
    pods.runtime.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=pod))
    assert leftover_mounts(base) == []
    assert pods.runtime.ListContainers(pb.ListContainersRequest()).containers == []
    assert not os.path.exists(os.path.join(pods.darsed.data_root, "cri", "sandboxes", pod))
    assert os.listdir(os.path.join(pods.darsed.data_root, "cri", "containers")) == []
    import glob

    assert glob.glob(f"/sys/fs/cgroup/*/darse/{a}") + glob.glob(f"/sys/fs/cgroup/*/darse/{b}") \
        + glob.glob(f"/sys/fs/cgroup/darse/{a}") == []


def _in_pod(pid: int, pod: str) -> bool:
    """A process whose network namespace is the pod's pinned one."""
    try:
        mine = os.stat(f"/proc/{pid}/ns/net").st_ino
    except OSError:
        return False
    for line in open("/proc/self/mountinfo"):
        if f"/{pod}/ns/net" in line.split()[4]:
            return os.stat(line.split()[4]).st_ino == mine
    return False


def _ns(pid: int, kind: str) -> str:
    try:
        return os.readlink(f"/proc/{pid}/ns/{kind}")
    except OSError:
        return ""


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_reopen_log_after_rotation_and_long_lines(pods: Cri, tmp_path) -> None:
    logs = tmp_path / "rot"
    pod = run_pod(pods, "rotate", log_dir=str(logs))
    cid = start(pods, pod, "c", "sh", "-c",
                "head -c 20000 /dev/zero | tr '\\0' x; echo; "
                "while :; do echo tick; sleep 0.05; done", log_path="c.log")
    path = logs / "c.log"
    deadline = time.monotonic() + 10
    while "tick" not in path.read_text():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    first = path.read_text().splitlines()
    # A 20000-byte line: a 16 KiB piece tagged P, then the rest tagged F.
    assert first[0].split(" ", 3)[2:] == ["P", "x" * 16384]
    assert first[1].split(" ", 3)[2:] == ["F", "x" * (20000 - 16384)]
    os.rename(path, logs / "c.log.1")  # the kubelet's rotation
    pods.runtime.ReopenContainerLog(pb.ReopenContainerLogRequest(container_id=cid))
    deadline = time.monotonic() + 10
    while not path.exists() or "tick" not in path.read_text():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert "x" * 100 not in path.read_text()
    pods.runtime.StopContainer(pb.StopContainerRequest(container_id=cid, timeout=0))
    with pytest.raises(grpc.RpcError) as info:
        pods.runtime.ReopenContainerLog(pb.ReopenContainerLogRequest(container_id=cid))
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_pods_made_and_removed_in_parallel(pods: Cri) -> None:
    """The kubelet starts and stops pods from many workers at once."""
    from concurrent.futures import ThreadPoolExecutor

    def one(i: int) -> tuple[str, bytes]:
        pod = run_pod(pods, f"par{i}")
        cid = start(pods, pod, "c", "sleep", "1000")
        return pod, sh(pods, cid, "hostname").stdout

    with ThreadPoolExecutor(8) as pool:
        made = list(pool.map(one, range(8)))
    assert sorted(h for _, h in made) == sorted(f"par{i}\n".encode() for i in range(8))
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda p: pods.runtime.RemovePodSandbox(
            pb.RemovePodSandboxRequest(pod_sandbox_id=p[0])), made))
    assert pods.runtime.ListPodSandbox(pb.ListPodSandboxRequest()).items == []
    assert not [m for m in leftover_mounts(str(pods.darsed.base)) if "/cri/" in m]


def test_exec_sync_output_is_bounded(pods: Cri) -> None:
    from darse.cri.execsync import MAX_OUTPUT

    pod = run_pod(pods, "chatty")
    cid = start(pods, pod, "c", "sleep", "1000")
    r = sh(pods, cid, f"echo first >&2; head -c {MAX_OUTPUT + 3_000_000} /dev/zero; "
                      "echo dropped >&2", timeout=60)
    assert r.stderr == b"first\n" and len(r.stdout) == MAX_OUTPUT - len(r.stderr)
    assert r.exit_code == 0


def test_pod_whose_pid_1_died_is_not_ready(pods: Cri) -> None:
    """The pid 1 of a pod sharing its PID namespace gone (killed on the host), the pod's
    containers cannot share one any more: the pod says so, as with a pause container."""
    import signal

    pod = run_pod(pods, "init-killed")
    cid = start(pods, pod, "a", "sleep", "1000")
    ns = sh(pods, cid, "readlink /proc/self/ns/pid").stdout.decode().strip()
    [init] = [int(p) for p in os.listdir("/proc") if p.isdigit()
              and _readlink(f"/proc/{p}/ns/pid") == ns
              and open(f"/proc/{p}/cmdline", "rb").read().startswith((b"darse-pod-init",
                                                                      b"catatonit"))]
    assert pods.runtime.PodSandboxStatus(pb.PodSandboxStatusRequest(
        pod_sandbox_id=pod)).status.state == pb.SANDBOX_READY
    os.kill(init, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while os.path.exists(f"/proc/{init}/ns") and time.monotonic() < deadline:
        time.sleep(0.02)
    assert pods.runtime.PodSandboxStatus(pb.PodSandboxStatusRequest(
        pod_sandbox_id=pod)).status.state == pb.SANDBOX_NOTREADY


def _readlink(path: str) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return ""
