"""Kubernetes pods through the CRI: RunPodSandbox + CreateContainer + StartContainer of a
busybox `sleep` pod, N times, through the same gRPC client (darse's .proto); pods per
second, and the memory each idle pod costs (PSS of the runtime's processes: daemon,
supervisors, infra and container processes, after the pods minus before, over N).

Side by side: darse (a private darsed --cri) and Debian's containerd 1.6 with its CRI
plugin (a private containerd, busybox and a busybox-based pause image imported with ctr).
Both put pods on a CNI bridge network of their own (containernetworking-plugins).

darse's pods are pinned namespaces by default; --sandbox pause runs them with the same
pause image as containerd (daemon.json's cri-sandbox-image), --sandbox pins,pause both,
one after the other; --userns gives each darse pod a user namespace of its own (mode POD,
a range of 65536 ids per pod, as the kubelet hands them out).

    sudo /opt/darse/venv/bin/python bench/cri_pods.py [-n 20] [--sandbox pins,pause]
        [--userns] [--no-containerd]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import grpc  # noqa: E402

from darse.cri.proto import api_pb2 as pb  # noqa: E402
from darse.cri.proto import api_pb2_grpc as pb_grpc  # noqa: E402
from darse.image import busybox  # noqa: E402
from tests.daemon import new_daemon  # noqa: E402
from tests.ocilayout import Layout, tar_of_dir  # noqa: E402

PAUSE = "docker.io/darse/pause:1"


def conflist(base: Path, bridge: str, subnet: str) -> None:
    (base / "net.d").mkdir(exist_ok=True)
    (base / "net.d" / "10-bench.conflist").write_text(json.dumps({
        "cniVersion": "0.4.0", "name": f"bench-{bridge}",
        "plugins": [{"type": "bridge", "bridge": bridge, "isGateway": True, "ipMasq": False,
                     "ipam": {"type": "host-local", "dataDir": str(base / "ipam"),
                              "ranges": [[{"subnet": subnet}]]}}]}))


def pss(pids: set[int]) -> int:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                total += next(int(line.split()[1]) for line in f if line.startswith("Pss:"))
        except (OSError, StopIteration):
            pass
    return total * 1024


def tree(roots: set[int]) -> set[int]:
    children: dict[int, list[int]] = {}
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open(f"/proc/{p}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(p))
            except OSError:
                pass
    out, todo = set(), list(roots)
    while todo:
        pid = todo.pop()
        if pid not in out:
            out.add(pid)
            todo += children.get(pid, [])
    return out


def run_pods(runtime: pb_grpc.RuntimeServiceStub, n: int, logs: Path, tag: str,
             userns: bool = False) -> float:
    began = time.perf_counter()
    for i in range(n):
        config = pb.PodSandboxConfig(
            metadata=pb.PodSandboxMetadata(name=f"{tag}-{i}", uid=f"{tag}-uid-{i}",
                                           namespace="bench"),
            hostname=f"pod{i}", log_directory=str(logs / f"pod{i}"))
        if userns:
            ids = [pb.IDMapping(container_id=0, host_id=65536 * (100 + i), length=65536)]
            config.linux.security_context.namespace_options.userns_options.CopyFrom(
                pb.UserNamespace(mode=pb.POD, uids=ids, gids=ids))
        pod = runtime.RunPodSandbox(pb.RunPodSandboxRequest(config=config)).pod_sandbox_id
        cid = runtime.CreateContainer(pb.CreateContainerRequest(
            pod_sandbox_id=pod, sandbox_config=config, config=pb.ContainerConfig(
                metadata=pb.ContainerMetadata(name="sleeper"),
                image=pb.ImageSpec(image="docker.io/library/busybox:latest"),
                command=["sleep", "1000000"], log_path="sleeper.log"))).container_id
        runtime.StartContainer(pb.StartContainerRequest(container_id=cid))
    return time.perf_counter() - began


def remove_pods(runtime: pb_grpc.RuntimeServiceStub) -> None:
    for pod in runtime.ListPodSandbox(pb.ListPodSandboxRequest()).items:
        runtime.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=pod.id))
        runtime.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=pod.id))


def measure(name: str, sock: str, roots: callable, n: int, logs: Path,
            userns: bool = False) -> dict:
    channel = grpc.insecure_channel(f"unix://{sock}")
    runtime = pb_grpc.RuntimeServiceStub(channel)
    try:
        run_pods(runtime, 1, logs, f"{name}-warm", userns)  # first-use costs
        remove_pods(runtime)
        time.sleep(1)
        before = pss(tree(roots()))
        elapsed = run_pods(runtime, n, logs, name, userns)
        time.sleep(2)
        after = pss(tree(roots()))
        return {"pods_per_s": n / elapsed, "mb_per_pod": (after - before) / n / 1e6}
    finally:
        remove_pods(runtime)
        channel.close()


def bench_darse(n: int, rootfs: str, sandbox: str = "pins", userns: bool = False) -> dict:
    d = new_daemon()
    sock = str(d.base / "cri.sock")
    conflist(d.base, "dzbench0", "10.231.0.0/16")
    d.extra_args = ["--cri-socket", sock, "--cni-conf-dir", str(d.base / "net.d")]
    if sandbox == "pause":
        from tests.conftest import unique_network

        bridge, bip = unique_network()
        (d.base / "daemon.json").write_text(json.dumps(
            {"bridge": bridge, "bip": bip, "cri-sandbox-image": PAUSE}))
    d.start()
    try:
        d.import_busybox(rootfs)
        if sandbox == "pause":  # containerd's: busybox's sleep
            status, out = d.api("POST", "/images/create?fromSrc=-&repo=darse/pause&tag=1"
                                "&changes=CMD%20%5B%22sleep%22%2C%222147483647%22%5D",
                                raw=tar_of_dir(rootfs))
            assert status == 200, out

        def roots() -> set[int]:
            shim = int(open(os.path.join(d.exec_root, "shim.pid")).read())
            return {d.proc.pid, shim}

        return measure("darse", sock, roots, n, d.base / "logs", userns)
    finally:
        d.stop()
        subprocess.run(["ip", "link", "del", "dzbench0"], capture_output=True)
        shutil.rmtree(d.base, ignore_errors=True)


def bench_containerd(n: int, rootfs: str) -> dict:
    base = Path(tempfile.mkdtemp(prefix="darse-bench-containerd-"))
    sock = str(base / "containerd.sock")
    conflist(base, "dzbench1", "10.232.0.0/16")
    (base / "config.toml").write_text(f"""version = 2
root = "{base}/root"
state = "{base}/state"
[grpc]
  address = "{sock}"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE}"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{base}/net.d"
""")
    cni_cache_existed = os.path.exists("/var/lib/cni")  # containerd's CNI result cache
    log = open(base / "containerd.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(["containerd", "--config", str(base / "config.toml")],
                            stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 20
        while not os.path.exists(sock):
            assert time.monotonic() < deadline, (base / "containerd.log").read_text()[-2000:]
            time.sleep(0.05)
        layer = tar_of_dir(rootfs)
        for ref, cmd in (("docker.io/library/busybox:latest", ["sh"]),
                         (PAUSE, ["sleep", "2147483647"])):
            layout_dir = base / ref.replace("/", "_").replace(":", "_")
            Layout(layout_dir).image([layer], tag=ref, config={"config": {
                "Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], "Cmd": cmd}})
            archive = f"{layout_dir}.tar"
            with tarfile.open(archive, "w") as tar:
                for entry in sorted(os.listdir(layout_dir)):
                    tar.add(layout_dir / entry, arcname=entry)
            subprocess.run(["ctr", "-a", sock, "-n", "k8s.io", "images", "import", archive],
                           check=True, capture_output=True)

        def roots() -> set[int]:
            out = {proc.pid}
            for p in os.listdir("/proc"):
                if p.isdigit():
                    try:
                        if sock.encode() in open(f"/proc/{p}/cmdline", "rb").read():
                            out.add(int(p))
                    except OSError:
                        pass
            return out

        return measure("containerd", sock, roots, n, base / "logs")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
        for p in os.listdir("/proc"):  # shims outlive containerd by design
            try:
                if p.isdigit() and sock.encode() in open(f"/proc/{p}/cmdline", "rb").read():
                    os.kill(int(p), signal.SIGKILL)
            except OSError:
                pass
        subprocess.run(["ip", "link", "del", "dzbench1"], capture_output=True)
        subprocess.run(["umount", "-R", str(base / "root")], capture_output=True)
        subprocess.run(["umount", "-R", str(base / "state")], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)
        if not cni_cache_existed:
            shutil.rmtree("/var/lib/cni", ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=20, help="pods per runtime")
    ap.add_argument("--sandbox", default="pins",
                    help="darse's pods: pins (namespaces alone), pause (a pause image), "
                         "or both, comma separated")
    ap.add_argument("--userns", action="store_true",
                    help="each darse pod in a user namespace of its own")
    ap.add_argument("--no-containerd", action="store_true")
    args = ap.parse_args()
    rootfs = tempfile.mkdtemp(prefix="darse-bench-busybox-")
    busybox.make_rootfs(rootfs)
    results = {}
    for sandbox in args.sandbox.split(","):
        label = {"pins": "pinned namespaces", "pause": "pause image"}[sandbox]
        label += ", userns" if args.userns else ""
        results[f"darse ({label})"] = bench_darse(args.n, rootfs, sandbox, args.userns)
    if not args.no_containerd and shutil.which("containerd") and shutil.which("ctr"):
        results["containerd 1.6 (CRI)"] = bench_containerd(args.n, rootfs)
    shutil.rmtree(rootfs, ignore_errors=True)
    print(f"{args.n} pods (RunPodSandbox + CreateContainer + StartContainer of busybox sleep)")
    print(f"{'runtime':<40}{'pods/s':>10}{'MB per idle pod':>18}")
    for name, r in results.items():
        print(f"{name:<40}{r['pods_per_s']:>10.1f}{r['mb_per_pod']:>18.2f}")


if __name__ == "__main__":
    main()
