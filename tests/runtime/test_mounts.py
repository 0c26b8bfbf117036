"""Mounts of every kind, /dev, masked and read-only paths, the read-only root."""

from __future__ import annotations

import os
import subprocess

from darse.runtime import spec
from tests.runtime.conftest import Runtime


def default_mounts() -> list[dict]:
    return spec.default()["mounts"]


def test_readonly_root(runtime: Runtime) -> None:
    done = runtime.run(["touch", "/newfile"])
    assert done.returncode != 0 and "Read-only file system" in done.stderr


def test_tmpfs_and_bind_mounts(runtime: Runtime, tmp_path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "hello").write_text("from the host\n")
    mounts = default_mounts() + [
        {"destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
         "options": ["size=1m", "mode=700"]},
        {"destination": "/rw", "type": "bind", "source": str(src), "options": ["rbind", "rw"]},
        {"destination": "/ro", "type": "bind", "source": str(src), "options": ["bind", "ro"]},
    ]
    done = runtime.run(["sh", "-c", "stat -c %a /scratch; grep ' /scratch ' /proc/mounts; "
                        "cat /ro/hello; echo new > /rw/written; echo x > /ro/no"],
                       mounts=mounts)
    lines = done.stdout.splitlines()
    assert lines[0] == "700" and "tmpfs" in lines[1] and "size=1024k" in lines[1]
    assert lines[2] == "from the host"
    assert (src / "written").read_text() == "new\n"
    assert "Read-only file system" in done.stderr and not (src / "no").exists()


def test_default_devices_and_links(runtime: Runtime) -> None:
    done = runtime.run(["sh", "-c", "for d in null zero full random urandom tty; do "
                        "stat -c '%n %t:%T %a' /dev/$d; done; "
                        "readlink /dev/fd; readlink /dev/ptmx; "
                        "echo ok > /dev/null && head -c 3 /dev/zero | wc -c"])
    lines = done.stdout.splitlines()
    assert lines[:6] == ["/dev/null 1:3 666", "/dev/zero 1:5 666", "/dev/full 1:7 666",
                         "/dev/random 1:8 666", "/dev/urandom 1:9 666", "/dev/tty 5:0 666"]
    assert lines[6:8] == ["/proc/self/fd", "pts/ptmx"] and lines[8] == "3"


def test_linux_devices_are_created(runtime: Runtime) -> None:
    devices = [{"path": "/dev/mynull", "type": "c", "major": 1, "minor": 3, "fileMode": 0o620,
                "uid": 7, "gid": 8}]
    done = runtime.run(["stat", "-c", "%t:%T %a %u %g", "/dev/mynull"], linux_devices=devices)
    assert done.stdout.strip() == "1:3 620 7 8", done.stderr


def test_masked_and_readonly_paths(runtime: Runtime) -> None:
    masked = [p for p in spec.default()["linux"]["maskedPaths"]
              if os.path.isfile(p) and open(p, "rb").read(1)]
    assert masked, "no masked /proc file with content on this host to test with"
    done = runtime.run(["sh", "-c", f"wc -c < {masked[0]}; ls /sys/firmware | wc -l; "
                        "echo 1 > /proc/sys/kernel/domainname"])
    lines = done.stdout.split()
    assert lines[:2] == ["0", "0"], done.stderr
    assert "Read-only file system" in done.stderr


def test_cgroup_mount_shows_the_container_cgroup(runtime: Runtime) -> None:
    done = runtime.run(["sh", "-c", "ls /sys/fs/cgroup; cat /sys/fs/cgroup/pids/cgroup.procs "
                        "2>/dev/null || cat /sys/fs/cgroup/cgroup.procs"])
    assert done.returncode == 0, done.stderr
    pids = [int(p) for p in done.stdout.split() if p.isdigit()]
    assert 1 in pids and max(pids) < 10  # the container's own processes, its pid numbers


def test_symlink_in_image_cannot_redirect_a_mount(runtime: Runtime, tmp_path) -> None:
    rootfs = tmp_path / "evil-rootfs"
    os.system(f"cp -a {runtime.rootfs} {rootfs}")
    victim = tmp_path / "victim"
    victim.mkdir()
    os.symlink(str(victim), rootfs / "escape")
    mounts = default_mounts() + [{"destination": "/escape", "type": "tmpfs",
                                  "source": "tmpfs"}]
    done = runtime.run(["sh", "-c", "touch /escape/x && echo inside"], mounts=mounts,
                       root={"path": str(rootfs), "readonly": False})
    assert done.stdout.strip() == "inside", done.stderr
    assert not (victim / "x").exists()
    assert (rootfs / "victim").exists() or (rootfs / str(victim).lstrip("/")).exists()


def test_image_links_cannot_redirect_dev_or_climb_out(runtime: Runtime, tmp_path) -> None:
    """/dev itself a link to a host folder, and a mount point behind `../../..`: the
    default devices and the mount land inside the rootfs, the host folders stay empty."""
    rootfs = tmp_path / "evil-rootfs"
    os.system(f"cp -a {runtime.rootfs} {rootfs}")
    host_dev, host_mnt = tmp_path / "host-dev", tmp_path / "host-mnt"
    host_dev.mkdir()
    host_mnt.mkdir()
    os.system(f"rm -rf {rootfs}/dev")
    os.symlink(str(host_dev), rootfs / "dev")
    os.symlink("../../../../../../../.." + str(host_mnt), rootfs / "climb")
    mounts = default_mounts() + [{"destination": "/climb/sub", "type": "tmpfs",
                                  "source": "tmpfs"}]
    done = runtime.run(["sh", "-c", "echo x > /dev/null && touch /climb/sub/y && echo ok"],
                       mounts=mounts, root={"path": str(rootfs), "readonly": False})
    assert done.stdout.strip() == "ok", done.stderr
    assert os.listdir(host_dev) == [] and os.listdir(host_mnt) == []


def test_bidirectional_mount_on_a_rootfs_that_is_a_mount_point(runtime: Runtime,
                                                                  tmp_path) -> None:
    """rootfsPropagation "rshared" and a bind mount "rshared" of a shared host folder (the
    CRI's PROPAGATION_BIDIRECTIONAL) on a rootfs that is its own mount point, as an overlay
    is: the container starts (it failed with EINVAL from pivot_root) and a mount made
    inside under that folder is seen on the host."""
    root, host = tmp_path / "root", tmp_path / "host"
    root.mkdir()
    host.mkdir()
    subprocess.run(["mount", "--bind", runtime.rootfs, str(root)], check=True)
    try:
        subprocess.run(["mount", "--make-private", str(root)], check=True)
        subprocess.run(["mount", "--bind", str(host), str(host)], check=True)
        subprocess.run(["mount", "--make-shared", str(host)], check=True)
        (host / "in").mkdir()
        caps = spec.default()["process"]["capabilities"]
        caps = {k: sorted({*v, "CAP_SYS_ADMIN"}) for k, v in caps.items()}
        mounts = default_mounts() + [{"destination": "/both", "type": "bind",
                                      "source": str(host), "options": ["rbind", "rshared"]}]
        done = runtime.run(["mount", "-t", "tmpfs", "-o", "size=1m", "inside", "/both/in"],
                           mounts=mounts, linux_rootfsPropagation="rshared",
                           process_capabilities=caps, root={"path": str(root)})
        assert done.returncode == 0, done.stderr
        seen = [line.split() for line in open("/proc/self/mountinfo")]
        assert any(f[4] == str(host / "in") and "inside" in f for f in seen), \
            "the container's mount did not reach the host"
    finally:
        subprocess.run(["umount", "-R", str(host)], check=False)
        subprocess.run(["umount", "-R", str(root)], check=False)
