"""docker cp with userns-remap: the container's ids both ways, as dockerd shows them
(its root's files come out root-owned, a copied file lands owned by its id inside)."""

from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
import time

from tests.conftest import unique_network
from tests.daemon import leftover_mounts, new_daemon


def test_cp_remapped(busybox_rootfs: str, tmp_path) -> None:
    d = new_daemon()
    bridge, bip = unique_network()
    (d.base / "daemon.json").write_text(json.dumps({"userns-remap": "default",
                                                    "bridge": bridge, "bip": bip}))
    try:
        d.start()
        d.import_busybox(busybox_rootfs)
        done = d.docker("run", "-d", "--name", "r1", "busybox", "sh", "-c",
                        "echo x > /m; chown 7:8 /m; mv /m /made; sleep 1000")
        assert done.returncode == 0, done.stderr
        for _ in range(100):  # (no exec: it fails in remapped containers, issue noted)
            if d.api("HEAD", "/containers/r1/archive?path=/made")[0] == 200:
                break
            time.sleep(0.05)
        out = d.docker("cp", "r1:/made", "-")
        with tarfile.open(fileobj=io.BytesIO(out.stdout.encode())) as tf:
            ti = tf.getmember("made")
        assert (ti.uid, ti.gid) == (7, 8)  # not the host's shifted ids
        status, body = d.api("GET", "/containers/r1/archive?path=/bin")
        with tarfile.open(fileobj=io.BytesIO(body)) as tf:
            assert {(t.uid, t.gid) for t in tf} == {(0, 0)}
        (tmp_path / "f").write_text("y")
        os.chown(tmp_path / "f", 1000, 1000)
        assert d.docker("cp", f"{tmp_path}/f", "r1:/f").returncode == 0
        back = d.docker("cp", "r1:/f", "-")
        with tarfile.open(fileobj=io.BytesIO(back.stdout.encode())) as tf:
            assert (tf.getmember("f").uid, tf.getmember("f").gid) == (1000, 1000)
        cid = d.docker("inspect", "-f", "{{.Id}}", "r1").stdout.strip()
        start = next(int(line.split(":")[1]) for line in open("/etc/subuid")
                     if line.startswith("darseremap:"))
        on_host = os.stat(f"{d.data_root}/containers/{cid}/upper/f")
        assert on_host.st_uid == start + 1000  # the container's 1000, not the host's
        # diff compares with the owner-shifted layers the container runs on
        assert d.docker("diff", "r1").stdout.splitlines() == ["A /f", "A /made"]
        # commit: the layer holds the container's ids, as the image's own layers do
        assert d.docker("commit", "r1", "remapped:1").returncode == 0
        owners = d.docker("run", "--rm", "remapped:1", "stat", "-c", "%u:%g", "/made", "/f",
                          "/bin/busybox")
        assert owners.stdout.split() == ["7:8", "1000:1000", "0:0"], owners.stderr
    finally:
        d.stop()
        assert leftover_mounts(str(d.base)) == []
        shutil.rmtree(d.base, ignore_errors=True)
