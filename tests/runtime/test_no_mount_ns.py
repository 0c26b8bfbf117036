"""A config without a mount namespace: the container inherits the runtime's (runtime spec;
runtime-tools' linux_ns_itype), as runc and crun do."""

from __future__ import annotations

import os

from tests.runtime.conftest import Runtime


def _mounts_under(path: str) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if line.split()[4].startswith(path)]


def test_no_mount_namespace_inherits_the_runtimes(runtime: Runtime) -> None:
    namespaces = [{"type": t} for t in ("pid", "ipc", "uts")]
    done = runtime.run(["readlink", "/proc/self/ns/mnt"], linux_namespaces=namespaces,
                       linux_maskedPaths=[], linux_readonlyPaths=[],
                       root={"path": runtime.rootfs, "readonly": False})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == os.readlink("/proc/self/ns/mnt")
    # What it mounted in the runtime's namespace goes with the container.
    assert _mounts_under(runtime.rootfs + "/") == []
    # Paths to mask cannot be hidden in a namespace shared with the host: refused, as runc.
    done = runtime.run(["true"], linux_namespaces=namespaces,
                       root={"path": runtime.rootfs, "readonly": False})
    assert done.returncode != 0
    assert "unable to restrict sys entries without a private MNT namespace" in done.stderr
