"""Namespaces are real: the container sees its own pid 1, hostname, mounts, network, ids."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from pathlib import Path

from tests.runtime.conftest import Runtime


def test_own_pid_namespace(runtime: Runtime) -> None:
    done = runtime.run(["sh", "-c", "echo $$; ps -o pid | tail -n +2"])
    pid1, *pids = done.stdout.split()
    assert done.returncode == 0 and pid1 == "1"
    # sh, ps and tail (if it started yet): nothing of the host's thousands of pids.
    assert "1" in pids and max(int(p) for p in pids) < 10, pids


def test_own_hostname_and_domainname(runtime: Runtime) -> None:
    done = runtime.run(["sh", "-c", "hostname; cat /proc/sys/kernel/domainname"],
                       hostname="c1.example", domainname="example.org")
    assert done.stdout.split() == ["c1.example", "example.org"]
    assert socket.gethostname() != "c1.example"


def test_own_mounts_and_root(runtime: Runtime) -> None:
    done = runtime.run(["sh", "-c", "cat /proc/self/mounts; ls /"])
    assert done.returncode == 0
    mounts = done.stdout
    assert " / " in mounts and "/work" not in mounts and runtime.rootfs not in mounts
    # Nothing the container mounted is visible on the host.
    with open("/proc/self/mountinfo") as f:
        assert runtime.rootfs not in f.read()


def test_own_network_namespace(runtime: Runtime) -> None:
    done = runtime.run(["ls", "/sys/class/net"])
    assert done.stdout.split() == ["lo"]


def test_host_network_namespace_when_not_unshared(runtime: Runtime) -> None:
    namespaces = [{"type": t} for t in ("pid", "ipc", "uts", "mount")]
    before = set(os.listdir("/sys/class/net"))  # other runs make links meanwhile
    done = runtime.run(["ls", "/sys/class/net"], linux_namespaces=namespaces,
                       mounts=[m for m in _default_mounts(runtime) if m["type"] != "sysfs"]
                       + [{"destination": "/sys", "type": "bind", "source": "/sys",
                           "options": ["rbind", "ro"]}])
    after = set(os.listdir("/sys/class/net"))
    seen = set(done.stdout.split())
    assert before & after <= seen <= before | after and "lo" in seen, (seen, before)


def test_join_network_namespace_by_path(runtime: Runtime) -> None:
    first = runtime.start_detached(["sleep", "100"])
    pid = runtime.state(first)["pid"]
    namespaces = [{"type": "network", "path": f"/proc/{pid}/ns/net"},
                  *({"type": t} for t in ("pid", "ipc", "uts", "mount"))]
    done = runtime.run(["readlink", "/proc/self/ns/net"], linux_namespaces=namespaces)
    assert done.stdout.strip() == os.readlink(f"/proc/{pid}/ns/net")
    runtime("delete", "--force", first)


def test_user_namespace_maps_ids(runtime: Runtime) -> None:
    # The remapped root is an ordinary host user: it needs a path it may walk, as Docker's
    # userns-remap data root provides (pytest's own tmp dirs are 0700).
    base = Path(tempfile.mkdtemp(prefix="darse-userns-"))
    try:
        base.chmod(0o755)
        _user_namespace_maps_ids(runtime, base)
    finally:
        shutil.rmtree(base)


def _user_namespace_maps_ids(runtime: Runtime, base: Path) -> None:
    rootfs = base / "rootfs"
    shutil.copytree(runtime.rootfs, rootfs, symlinks=True)
    for path in [rootfs, *rootfs.rglob("*")]:  # owned by the remapped root, as Docker does
        os.lchown(path, 100000, 100000)
    shared = base / "shared"
    shared.mkdir()
    os.chown(shared, 100000, 100000)
    namespaces = [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount", "user")]
    maps = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    mounts = _default_mounts(runtime) + [
        {"destination": "/data", "type": "bind", "source": str(shared), "options": ["rbind"]}]
    done = runtime.run(["sh", "-c", "cat /proc/self/uid_map; id -u; touch /data/f; "
                        "chown 1000:1000 /data/f; ls -ln /data"],
                       linux_namespaces=namespaces, linux_uidMappings=maps,
                       linux_gidMappings=maps, mounts=mounts,
                       root={"path": str(rootfs), "readonly": True},
                       process_capabilities={k: ["CAP_CHOWN"] for k in ("bounding", "effective",
                                                                        "permitted")})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[:4] == ["0", "100000", "65536", "0"]
    st = os.stat(shared / "f")
    assert (st.st_uid, st.st_gid) == (101000, 101000)  # container 1000 is host 101000


def _default_mounts(runtime: Runtime) -> list[dict]:
    from darse.runtime import spec

    return spec.default()["mounts"]
