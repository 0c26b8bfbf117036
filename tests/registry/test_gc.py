"""Storage over time: `darse registry gc` while the registry serves (unreferenced blobs
go, referenced ones and those a push is using stay), abandoned uploads collected."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

from darse.registry.storage import Storage
from tests.registry.conftest import REPO, DarseRegistry
from tests.registry.test_api import OCI_MANIFEST, manifest, push_blob, push_image, sha


def gc(reg: DarseRegistry, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "darse.cli", "registry", "gc", "--root",
                           str(reg.root), *args], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, PYTHONPATH=REPO))
    assert done.returncode == 0, done.stderr
    return done.stdout


def age(reg: DarseRegistry, digest: str, seconds: float = 7200) -> None:
    """Make a blob look as if it were pushed long ago."""
    path = reg.root / "blobs" / "sha256" / digest.split(":")[1]
    old = time.time() - seconds
    os.utime(path, (old, old))


def test_gc_keeps_what_manifests_reference(darse_registry: DarseRegistry) -> None:
    http = darse_registry.http
    digest, _ = push_image(http, "app", "v1", [b"kept layer"])
    orphan = push_blob(http, "app", b"nobody refers to me")
    for d in (digest, orphan, sha(b"kept layer"), sha(b"{}")):
        age(darse_registry, d)
    assert "would delete blob " + orphan in gc(darse_registry, "--grace", "60", "--dry-run")
    assert http.head(f"/v2/app/blobs/{orphan}").status_code == 200
    age(darse_registry, orphan)  # the HEAD above touched it, as a pusher's would
    out = gc(darse_registry, "--grace", "60")
    assert out.splitlines()[0] == f"deleted blob {orphan}"
    assert http.head(f"/v2/app/blobs/{orphan}").status_code == 404
    assert http.get(f"/v2/app/blobs/{sha(b'kept layer')}").content == b"kept layer"
    assert http.get("/v2/app/manifests/v1").status_code == 200
    # Once its manifest is deleted, an image's blobs go too.
    assert http.delete(f"/v2/app/manifests/{digest}").status_code == 202
    for d in (digest, sha(b"kept layer"), sha(b"{}")):
        age(darse_registry, d)
    gc(darse_registry, "--grace", "60")
    assert os.listdir(darse_registry.root / "blobs" / "sha256") == []
    assert http.head(f"/v2/app/blobs/{sha(b'kept layer')}").status_code == 404


def test_gc_spares_a_push_in_progress(darse_registry: DarseRegistry) -> None:
    """A pusher finds its layer already there (HEAD), then pushes the manifest: a gc in
    between must not take the layer, however old the blob is."""
    http = darse_registry.http
    push_blob(http, "app", b"{}")
    layer = push_blob(http, "app", b"an old layer")
    age(darse_registry, layer)
    age(darse_registry, sha(b"{}"))
    assert http.head(f"/v2/app/blobs/{layer}").status_code == 200
    assert http.head(f"/v2/app/blobs/{sha(b'{}')}").status_code == 200
    gc(darse_registry, "--grace", "60")
    resp = http.put("/v2/app/manifests/v1", content=manifest(b"{}", [b"an old layer"]),
                    headers={"Content-Type": OCI_MANIFEST})
    assert resp.status_code == 201
    assert http.get(f"/v2/app/blobs/{layer}").content == b"an old layer"


def test_gc_waits_for_manifest_writers(darse_registry: DarseRegistry) -> None:
    """gc marks under the lock manifest writers hold shared: a manifest being written when
    gc starts is seen by its mark."""
    storage = Storage(str(darse_registry.root))
    held = storage.lock(exclusive=False)
    finished = threading.Event()

    def run() -> None:
        gc(darse_registry, "--grace", "0")
        finished.set()

    t = threading.Thread(target=run)
    t.start()
    try:
        assert not finished.wait(1.5)
    finally:
        storage.unlock(held)
    t.join(30)
    assert finished.is_set()


def test_abandoned_uploads_are_collected(darse_registry: DarseRegistry) -> None:
    http = darse_registry.http
    old = http.post("/v2/app/blobs/uploads/").headers["Location"]
    assert http.patch(old, content=b"half", headers={"Content-Range": "0-3"}
                      ).status_code == 202
    fresh = http.post("/v2/app/blobs/uploads/").headers["Location"]
    folder = darse_registry.root / "uploads" / old.rsplit("/", 1)[1]
    past = time.time() - 7200
    for path in (folder, folder / "data", folder / "repo"):
        os.utime(path, (past, past))
    out = gc(darse_registry, "--upload-ttl", "3600")
    assert f"deleted upload {old.rsplit('/', 1)[1]}" in out
    assert http.get(old).status_code == 404
    assert http.get(fresh).status_code == 204


def test_server_collects_abandoned_uploads(tmp_path) -> None:
    reg = DarseRegistry(tmp_path, "--upload-ttl", "1")
    try:
        loc = reg.http.post("/v2/app/blobs/uploads/").headers["Location"]
        assert reg.http.get(loc).status_code == 204
        deadline = time.monotonic() + 10
        while reg.http.get(loc).status_code == 204 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert reg.http.get(loc).status_code == 404
        assert os.listdir(reg.root / "uploads") == []
        assert "abandoned: removed" in reg.log.read_text()
    finally:
        reg.stop()
