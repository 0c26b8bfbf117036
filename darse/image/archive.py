"""docker save and docker load.

save writes what docker 25+ writes: an OCI image layout (index.json, blobs/) that also
carries docker-archive's manifest.json, so `docker load` of any version, skopeo's
docker-archive: and oci-archive: transports, and OCI tools all read it. Layers are
uncompressed tars, their digests the DiffIDs.

load reads that, the older docker-archive layout (<id>/layer.tar, <id>.json), and a plain
OCI layout; the stream is ingested into the content store in one pass, then layers are
unpacked from it.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tarfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import IO, Any

from darse.errors import InvalidArgument
from darse.image import layer as layers
from darse.image import mediatypes, undo
from darse.image import reference as refs
from darse.image.snapshots import chain_ids
from darse.image.store import ImageStore, short_id
from darse.image.unpacker import Unpackers

# --- save --------------------------------------------------------------------------


def _add_bytes(tf: tarfile.TarFile, name: str, data: bytes) -> None:
    ti = tarfile.TarInfo(name)
    ti.size, ti.mode, ti.mtime = len(data), 0o644, int(time.time())
    tf.addfile(ti, io.BytesIO(data))


def _add_dir(tf: tarfile.TarFile, name: str) -> None:
    ti = tarfile.TarInfo(name)
    ti.type, ti.mode, ti.mtime = tarfile.DIRTYPE, 0o755, int(time.time())
    tf.addfile(ti)


def save(store: ImageStore, names: list[str], out: IO[bytes]) -> None:
    """Write one archive holding every named image (tags kept as given)."""
    images: dict[str, list[str]] = {}
    for name in names:
        image_id = store.resolve(name)
        tags = images.setdefault(image_id, [])
        if not refs.is_image_id(name) and not name.startswith("sha256:"):
            try:
                ref = refs.parse(name)
                if ref.tag and not ref.digest:
                    tags.append(ref.familiar())
            except InvalidArgument:
                pass
    written: set[str] = set()
    index: list[dict[str, Any]] = []
    docker_manifest: list[dict[str, Any]] = []
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tf:
        _add_dir(tf, "blobs")
        _add_dir(tf, "blobs/sha256")

        def blob(digest: str, data: bytes | None = None, size: int = 0,
                 stream: Callable[[], Any] | None = None) -> str:
            path = "blobs/sha256/" + digest.split(":", 1)[1]
            if digest in written:
                return path
            written.add(digest)
            if data is not None:
                _add_bytes(tf, path, data)
            else:
                ti = tarfile.TarInfo(path)
                ti.size, ti.mode, ti.mtime = size, 0o644, int(time.time())
                with stream() as src:
                    tf.addfile(ti, src)
            return path

        for image_id, tags in images.items():
            config_raw = store.content.read(image_id)
            config_path = blob(image_id, config_raw)
            layer_paths, descs = [], []
            config = json.loads(config_raw)
            for chain_id, diff_id in zip(store.chain(image_id), config["rootfs"]["diff_ids"],
                                         strict=True):
                row = store.layer(chain_id)
                layer_paths.append(blob(diff_id, size=row["size"],
                                        stream=lambda r=row: _LayerTar(store, r)))
                descs.append({"mediaType": mediatypes.OCI_LAYER, "digest": diff_id,
                              "size": row["size"]})
            manifest = {"schemaVersion": 2, "mediaType": mediatypes.OCI_MANIFEST,
                        "config": {"mediaType": mediatypes.OCI_CONFIG, "digest": image_id,
                                   "size": len(config_raw)}, "layers": descs}
            raw = json.dumps(manifest).encode()
            digest = store.content.put(raw)
            blob(digest, raw)
            for tag in tags or [None]:
                desc = {"mediaType": mediatypes.OCI_MANIFEST, "digest": digest, "size": len(raw)}
                if tag:
                    full = str(refs.parse(tag))
                    desc["annotations"] = {"io.containerd.image.name": full,
                                           "org.opencontainers.image.ref.name":
                                           full.rsplit(":", 1)[1]}
                index.append(desc)
            docker_manifest.append({"Config": config_path, "RepoTags": tags or None,
                                    "Layers": layer_paths})
        _add_bytes(tf, "oci-layout", b'{"imageLayoutVersion": "1.0.0"}')
        _add_bytes(tf, "index.json", json.dumps({
            "schemaVersion": 2, "mediaType": mediatypes.OCI_INDEX,
            "manifests": index}).encode())
        _add_bytes(tf, "manifest.json", json.dumps(docker_manifest).encode())


class _LayerTar:
    """The uncompressed tar of a layer, from the compressed blob we hold."""

    def __init__(self, store: ImageStore, row: dict[str, Any]) -> None:
        if not row["blob"] or not store.content.has(row["blob"]):
            raise InvalidArgument(f"layer {short_id(row['chain_id'])} has no archive to save")
        self.raw = store.content.open(row["blob"])
        self.plain = layers.decompressed(self.raw)

    def read(self, n: int = -1) -> bytes:
        return self.plain.read(n)

    def __enter__(self) -> _LayerTar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.raw.close()


# --- load --------------------------------------------------------------------------


def _clean_name(name: str) -> str:
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise InvalidArgument(f"invalid archive: entry {name!r} points outside it")
    return "/".join(parts)


def _ingest(store: ImageStore, stream: IO[bytes], made: undo.Made
            ) -> tuple[dict[str, str], dict[str, bytes]]:
    """One pass over the archive: big files become blobs, small JSON files are kept."""
    files: dict[str, str] = {}  # archive path -> blob digest
    small: dict[str, bytes] = {}
    plain = layers.decompressed(stream)
    try:
        with tarfile.open(fileobj=plain, mode="r|") as tf:
            for ti in tf:
                if not ti.isfile():
                    continue
                name = _clean_name(ti.name)
                src = tf.extractfile(ti)
                if name in ("manifest.json", "index.json", "repositories", "oci-layout"):
                    small[name] = src.read()
                    continue
                expected = None
                if name.startswith("blobs/sha256/"):
                    expected = "sha256:" + name.rsplit("/", 1)[1]
                with store.content.writer() as w:
                    while chunk := src.read(1 << 20):
                        w.write(chunk)
                    files[name] = w.commit(expected)
                    made.blobs.add(files[name])
    except tarfile.TarError as exc:
        raise InvalidArgument(f"invalid archive: {exc}") from None
    return files, small


def _images_in(files: dict[str, str], small: dict[str, bytes], store: ImageStore
               ) -> list[tuple[str, list[str], list[str]]]:
    """(config digest, layer blob digests, tags) for each image of the archive."""
    out = []
    if "manifest.json" in small:
        try:
            entries = json.loads(small["manifest.json"])
        except ValueError as exc:
            raise InvalidArgument(f"invalid archive: manifest.json: {exc}") from None
        for e in entries:
            try:
                config = files[_clean_name(e["Config"])]
                blobs = [files[_clean_name(p)] for p in e["Layers"]]
            except (KeyError, TypeError):
                raise InvalidArgument("invalid archive: manifest.json names a file "
                                      "the archive does not hold") from None
            out.append((config, blobs, e.get("RepoTags") or []))
        return out
    if "index.json" in small:
        index = json.loads(small["index.json"])
        for desc in index.get("manifests") or []:
            m = json.loads(store.content.read(desc["digest"]))
            name = (desc.get("annotations") or {}).get("io.containerd.image.name")
            out.append((m["config"]["digest"], [d["digest"] for d in m["layers"]],
                        [name] if name else []))
        return out
    raise InvalidArgument("invalid archive: no manifest.json nor index.json")


def load(store: ImageStore, stream: IO[bytes],
         progress: Callable[[dict[str, Any]], None] | None = None) -> list[str]:
    """Load every image of the archive; returns docker's 'Loaded image...' lines."""
    with undo.all_or_nothing(store) as made:
        files, small = _ingest(store, stream, made)
        try:
            return _load(store, files, small, progress, made)
        finally:
            # What the archive brought that no image kept (a refused image, a manifest).
            keep = store.referenced_blobs()
            for digest in set(files.values()) - keep:
                store.content.delete(digest)


def _unpack_layer(store: ImageStore, chain: list[str], blobs: list[str],
                  diff_ids: list[str], i: int, made: undo.Made,
                  unpackers: Unpackers | None) -> None:
    """Unpack layer i from its blob into its snapshot (in a worker of unpackers if
    given), checking its DiffID."""
    made.layers.add(chain[i])
    tmp = store.snapshots.prepare()
    try:
        with store.content.open(blobs[i]) as f:
            if unpackers:
                diff_id, size = unpackers.start(os.path.join(tmp, "diff"), f.fileno()).result()
            else:
                diff_id, size = layers.unpack(f, os.path.join(tmp, "diff"))
        if diff_id != diff_ids[i]:
            raise InvalidArgument(f"invalid archive: layer {i} has DiffID {diff_id}, "
                                  f"the config says {diff_ids[i]}")
        store.snapshots.commit(tmp, chain[i])
    except BaseException:
        store.snapshots.discard(tmp)
        raise
    head = open(store.content.path(blobs[i]), "rb").read(4)  # noqa: SIM115
    media = mediatypes.OCI_LAYER_GZIP if head[:2] == b"\x1f\x8b" else \
        mediatypes.OCI_LAYER_ZSTD if head == b"\x28\xb5\x2f\xfd" else \
        mediatypes.OCI_LAYER
    store.add_layer(chain[i], diff_ids[i], chain[i - 1] if i else "", size, blobs[i],
                    store.content.size(blobs[i]), media)



def _load(store: ImageStore, files: dict[str, str], small: dict[str, bytes],
          progress: Callable[[dict[str, Any]], None] | None, made: undo.Made) -> list[str]:
    messages = []
    for config_digest, blobs, tags in _images_in(files, small, store):
        config_raw = store.content.read(config_digest)
        config = json.loads(config_raw)
        diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
        if len(diff_ids) != len(blobs):
            raise InvalidArgument("invalid archive: the layers do not match the image config")
        chain = chain_ids(diff_ids)

        missing = [i for i in range(len(chain)) if not store.has_layer(chain[i])]
        # Several layers: each unpacked in a process of its own (darse.image.unpacker).
        with (Unpackers() if len(missing) > 1 else contextlib.nullcontext()) as unpackers, \
                ThreadPoolExecutor(max_workers=4) as pool:
            for f in [pool.submit(_unpack_layer, store, chain, blobs, diff_ids, i, made,
                                  unpackers) for i in missing]:
                f.result()
        names = [refs.parse(t) for t in tags]
        image_id = store.register(config_raw, names)
        if names:
            messages += [f"Loaded image: {r.familiar()}" for r in names]
        else:
            messages.append(f"Loaded image ID: {image_id}")
    if progress:
        for m in messages:
            progress({"stream": m + "\n"})
    return messages
