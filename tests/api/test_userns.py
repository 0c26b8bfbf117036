"""userns-remap: the container's root is not the host's root."""

from __future__ import annotations

import json
import os
import shutil
import sys

from tests.api.test_host_access import WALK, as_nobody
from tests.cli.test_cli import darse
from tests.conftest import unique_network
from tests.daemon import new_daemon


def remapped_gid() -> int:
    """The remapped root's group on the host: the subgid range of darseremap."""
    return next(int(line.split(":")[1]) for line in open("/etc/subgid")
                if line.startswith("darseremap:"))


def test_userns_remap_default(busybox_rootfs: str, tmp_path) -> None:
    d = new_daemon()
    bridge, bip = unique_network()
    (d.base / "daemon.json").write_text(json.dumps({"userns-remap": "default",
                                                    "bridge": bridge, "bip": bip}))
    shared = None
    try:
        d.start()
        d.import_busybox(busybox_rootfs)
        start = next(int(line.split(":")[1]) for line in open("/etc/subuid")
                     if line.startswith("darseremap:"))
        out = darse(d, "run", "--rm", "busybox", "sh", "-c", "id -u; cat /proc/self/uid_map; "
                    "ls -ln /bin/busybox")
        assert out.returncode == 0, out.stderr
        lines = out.stdout.splitlines()
        assert lines[0] == "0"  # root inside...
        assert lines[1].split() == ["0", str(start), "65536"]  # ...is start outside
        assert lines[2].split()[2] == "0"  # the image's files look root-owned inside
        import tempfile
        from pathlib import Path

        shared = Path(tempfile.mkdtemp(prefix="darse-userns-"))  # a path others may walk
        shared.chmod(0o777)
        assert darse(d, "run", "--rm", "-v", f"{shared}:/data", "busybox", "touch",
                     "/data/made-by-root").returncode == 0
        assert os.stat(shared / "made-by-root").st_uid == start
        # The host's root-only files stay out of reach of the container's root.
        denied = darse(d, "run", "--rm", "-v", "/etc/shadow:/shadow:ro", "busybox", "cat",
                       "/shadow")
        assert denied.returncode != 0 and "Permission denied" in denied.stderr
        vol = darse(d, "run", "--rm", "-v", "remapvol:/v", "busybox", "touch", "/v/f")
        assert vol.returncode == 0, vol.stderr
        # The remapped root's group passes through the roots; other users reach nothing.
        assert os.stat(d.data_root).st_gid == remapped_gid()
        running = darse(d, "run", "-d", "-v", "remapvol:/v", "busybox", "sleep", "100")
        assert running.returncode == 0, running.stderr
        walked = as_nobody(sys.executable, "-I", "-c", WALK, d.data_root, d.exec_root)
        assert json.loads(walked.stdout) == {"reached": [], "readable": []}
    finally:
        d.stop()
        if shared is not None:
            shutil.rmtree(shared, ignore_errors=True)
    shutil.rmtree(d.base, ignore_errors=True)


def test_userns_remap_exec(busybox_rootfs: str) -> None:
    """exec joins the container's namespaces, its network one too: that one is made by
    darsed, so it belongs to the host's user namespace and is joined before the
    container's user namespace (after it, the host's rights are gone: EPERM)."""
    d = new_daemon()
    bridge, bip = unique_network()
    (d.base / "daemon.json").write_text(json.dumps({"userns-remap": "default",
                                                    "bridge": bridge, "bip": bip}))
    try:
        d.start()
        d.import_busybox(busybox_rootfs)
        start = next(int(line.split(":")[1]) for line in open("/etc/subuid")
                     if line.startswith("darseremap:"))
        assert darse(d, "run", "-d", "--name", "ux", "busybox", "sleep", "100"
                     ).returncode == 0
        done = darse(d, "exec", "ux", "sh", "-c", "id -u; cat /proc/self/uid_map")
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines()[0] == "0"
        assert done.stdout.splitlines()[1].split() == ["0", str(start), "65536"]
        done = d.docker("exec", "-u", "nobody", "ux", "id", "-u")
        assert done.returncode == 0 and done.stdout == "65534\n", done.stderr
        # The same network namespace as the container's process.
        inside = darse(d, "exec", "ux", "readlink", "/proc/1/ns/net").stdout
        assert inside == darse(d, "exec", "ux", "readlink", "/proc/self/ns/net").stdout
    finally:
        d.stop()
    shutil.rmtree(d.base, ignore_errors=True)
