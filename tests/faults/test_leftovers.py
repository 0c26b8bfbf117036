"""What a crash of darsed leaves in its data root is taken back at its next start
(issue 10, item 10): partial downloads and build contexts in blobs/ingest, scratch
snapshots, blobs and layers no image references, container folders without a record."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import sqlite3
import time

from tests.daemon import leftover_mounts, new_daemon


def test_leftovers_of_a_crash_are_reclaimed_at_start(busybox_rootfs: str) -> None:
    d = new_daemon()
    try:
        d.start()
        d.import_busybox(busybox_rootfs)
        status, out = d.api("POST", "/containers/create?name=kept",
                            {"Image": "busybox", "Cmd": ["true"]})
        kept = json.loads(out)["Id"]
        status, out = d.api("POST", "/containers/create?name=unmade",
                            {"Image": "busybox", "Cmd": ["true"]})
        unmade = json.loads(out)["Id"]
        d.kill(signal.SIGKILL)
        # Recorded, its folder not made yet: what a crash in the middle of create leaves.
        shutil.rmtree(os.path.join(d.data_root, "containers", unmade))
        data = d.data_root
        blobs_before = set(os.listdir(os.path.join(data, "blobs", "sha256")))
        layers_before = set(os.listdir(os.path.join(data, "overlay")))
        ingest = os.path.join(data, "blobs", "ingest")
        with open(os.path.join(ingest, "ingest-half"), "wb") as f:
            f.write(b"x" * 100_000)  # a download cut short
        os.makedirs(os.path.join(ingest, "build-ctx", "src"))  # a build's context folder
        open(os.path.join(ingest, "build-ctx", "src", "main.c"), "w").close()
        for scratch in (".tmp-pull", ".build-copy", ".from-stage"):
            os.makedirs(os.path.join(data, "overlay", scratch, "diff", "usr"))
        # A layer unpacked and recorded, its blob stored, the image never registered.
        blob = b"a layer nobody references"
        digest = hashlib.sha256(blob).hexdigest()
        with open(os.path.join(data, "blobs", "sha256", digest), "wb") as f:
            f.write(blob)
        chain = hashlib.sha256(b"orphan chain").hexdigest()
        os.makedirs(os.path.join(data, "overlay", chain, "diff", "etc"))
        db = sqlite3.connect(os.path.join(data, "state.db"))
        db.execute("INSERT INTO layers(chain_id, diff_id, parent, size, blob) VALUES "
                   "(?,?,?,?,?)", ("sha256:" + chain, "sha256:" + chain, "", 1,
                                   "sha256:" + digest))
        db.commit()
        db.close()
        orphan_dir = os.path.join(data, "containers", "f" * 64)  # created, never recorded
        os.makedirs(os.path.join(orphan_dir, "upper", "tmp"))
        # Removed (its record gone), its folder not yet deleted by the background worker.
        removed_dir = os.path.join(data, "containers", ".removed-" + "e" * 64)
        os.makedirs(os.path.join(removed_dir, "upper", "etc"))

        t0 = time.monotonic()
        d.start()
        started = time.monotonic() - t0
        assert os.listdir(ingest) == []
        assert set(os.listdir(os.path.join(data, "overlay"))) == layers_before
        assert set(os.listdir(os.path.join(data, "blobs", "sha256"))) == blobs_before
        assert not os.path.exists(orphan_dir) and not os.path.exists(removed_dir)
        assert os.path.isdir(os.path.join(data, "containers", kept))
        db = sqlite3.connect(os.path.join(data, "state.db"))
        assert db.execute("SELECT COUNT(*) FROM layers WHERE chain_id=?",
                          ("sha256:" + chain,)).fetchone()[0] == 0
        db.close()
        assert d.api("GET", f"/containers/{unmade}/json")[0] == 404
        # What images and containers use is all there.
        assert d.api("POST", f"/containers/{kept}/start")[0] == 204
        status, out = d.api("POST", f"/containers/{kept}/wait")
        assert (status, json.loads(out)["StatusCode"]) == (200, 0)
        assert started < 5, started
    finally:
        if d.proc is not None and d.proc.poll() is not None:
            d.start()
        d.stop()
        assert leftover_mounts(str(d.base)) == []
        shutil.rmtree(d.base, ignore_errors=True)
