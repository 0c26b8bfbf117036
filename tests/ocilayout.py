"""Test images made by hand, independently of darse's own code: OCI image layouts
(index.json, blobs) that skopeo copies into a registry or darse loads."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
from pathlib import Path


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def tar_of_dir(root: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name in sorted(os.listdir(root)):
            tf.add(os.path.join(root, name), arcname=name)
    return buf.getvalue()


def tar_of_entries(entries: list[tuple[str, str, bytes | str]]) -> bytes:
    """(name, kind, data) with kind file|dir|symlink|hardlink|whiteout."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, kind, data in entries:
            ti = tarfile.TarInfo(name)
            ti.mtime = 1700000000
            if kind == "dir":
                ti.type, ti.mode = tarfile.DIRTYPE, 0o755
                tf.addfile(ti)
            elif kind == "symlink":
                ti.type, ti.linkname = tarfile.SYMTYPE, data
                tf.addfile(ti)
            elif kind == "hardlink":
                ti.type, ti.linkname = tarfile.LNKTYPE, data
                tf.addfile(ti)
            else:
                raw = data.encode() if isinstance(data, str) else data
                ti.size, ti.mode = len(raw), 0o644
                tf.addfile(ti, io.BytesIO(raw))
    return buf.getvalue()


def tar_of_files(files: dict[str, bytes]) -> bytes:
    """A plain tar of regular files, name -> content (a build context, an archive)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in files.items():
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


class Layout:
    """An OCI layout being written: blobs, manifests, one index.json."""

    def __init__(self, path: Path) -> None:
        self.path = path
        (path / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        (path / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
        self.manifests: list[dict] = []

    def blob(self, data: bytes) -> str:
        d = digest(data)
        (self.path / "blobs" / "sha256" / d.split(":")[1]).write_bytes(data)
        return d

    def image(self, layers: list[bytes], tag: str | None = "latest", arch: str = "amd64",
              config: dict | None = None, compress: str = "gzip") -> dict:
        """Add an image (plain tar layers); returns its manifest descriptor."""
        descs, diff_ids = [], []
        for raw in layers:
            diff_ids.append(digest(raw))
            if compress == "gzip":
                data = gzip.compress(raw, 6, mtime=0)
                mt = "application/vnd.oci.image.layer.v1.tar+gzip"
            elif compress == "zstd":
                import zstandard

                data = zstandard.ZstdCompressor().compress(raw)
                mt = "application/vnd.oci.image.layer.v1.tar+zstd"
            else:
                data, mt = raw, "application/vnd.oci.image.layer.v1.tar"
            descs.append({"mediaType": mt, "digest": self.blob(data), "size": len(data)})
        cfg = {"architecture": arch, "os": "linux", "created": "2024-01-02T03:04:05Z",
               "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:"
                                  "/sbin:/bin"], "Cmd": ["sh"]},
               "rootfs": {"type": "layers", "diff_ids": diff_ids},
               "history": [{"created": "2024-01-02T03:04:05Z", "created_by": f"layer {i}"}
                           for i in range(len(layers))]}
        cfg.update(config or {})
        cfg_raw = json.dumps(cfg).encode()
        manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                               "digest": self.blob(cfg_raw), "size": len(cfg_raw)},
                    "layers": descs}
        raw = json.dumps(manifest).encode()
        desc = {"mediaType": manifest["mediaType"], "digest": self.blob(raw), "size": len(raw),
                "platform": {"architecture": arch, "os": "linux"}}
        if tag:
            desc["annotations"] = {"org.opencontainers.image.ref.name": tag}
        self.manifests.append(desc)
        self.write_index()
        return desc

    def multi_platform(self, tag: str, descs: list[dict]) -> None:
        """An index of several platform manifests, under one tag."""
        inner = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                 "manifests": [{k: v for k, v in d.items() if k != "annotations"}
                               for d in descs]}
        raw = json.dumps(inner).encode()
        self.manifests = [{"mediaType": inner["mediaType"], "digest": self.blob(raw),
                           "size": len(raw),
                           "annotations": {"org.opencontainers.image.ref.name": tag}}]
        self.write_index()

    def write_index(self) -> None:
        index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                 "manifests": self.manifests}
        (self.path / "index.json").write_text(json.dumps(index))
