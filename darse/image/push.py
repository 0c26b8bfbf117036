"""docker push: upload what the registry lacks (or mount it from a sibling repository),
then the manifest under the tag."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from darse.errors import InvalidArgument, NotFound
from darse.image import mediatypes
from darse.image.pull import Progress, _LayerProgress
from darse.image.reference import Reference
from darse.image.registry import Credentials, Registry
from darse.image.store import ImageStore, short_id

CHUNK = 8 << 20


def _chunks(store: ImageStore, digest: str) -> Iterator[bytes]:
    with store.content.open(digest) as f:
        while chunk := f.read(CHUNK):
            yield chunk


def _layer_media(media: str) -> str:
    return media if media in mediatypes.LAYERS else mediatypes.DOCKER_LAYER


def manifest_for(store: ImageStore, image_id: str) -> tuple[bytes, str, list[dict[str, Any]]]:
    """(raw manifest, media type, blob descriptors to upload) for an image.

    A manifest the image came with is reused when we hold all its blobs (so the digest
    stays the one users know); otherwise a Docker v2 schema 2 manifest is built.
    """
    config_raw = store.content.read(image_id)
    for m in store.manifests(image_id):
        if m["media_type"] not in mediatypes.MANIFESTS or not store.content.has(m["digest"]):
            continue
        raw = store.content.read(m["digest"])
        parsed = json.loads(raw)
        if all(store.content.has(d["digest"]) for d in parsed["layers"]):
            return raw, m["media_type"], [*parsed["layers"], parsed["config"]]
    layers = []
    for chain_id in store.chain(image_id):
        row = store.layer(chain_id)
        if not row or not row["blob"] or not store.content.has(row["blob"]):
            raise NotFound(f"layer {short_id(chain_id)} has no archive to push: "
                           "it was made locally and darse cannot pack layers yet")
        layers.append({"mediaType": _layer_media(row["media_type"]), "size": row["blob_size"],
                       "digest": row["blob"]})
    oci = any(d["mediaType"].startswith("application/vnd.oci") for d in layers)
    manifest = {
        "schemaVersion": 2,
        "mediaType": mediatypes.OCI_MANIFEST if oci else mediatypes.DOCKER_MANIFEST,
        "config": {"mediaType": mediatypes.OCI_CONFIG if oci else mediatypes.DOCKER_CONFIG,
                   "size": len(config_raw), "digest": image_id},
        "layers": layers,
    }
    raw = json.dumps(manifest, indent=3).encode()
    return raw, manifest["mediaType"], [*layers, manifest["config"]]


def push(store: ImageStore, ref: Reference, credentials: Credentials | None = None,
         progress: Progress | None = None) -> str:
    """Push a tag (or, with no tag, every tag of the repository); returns the digest."""
    lock = threading.Lock()

    def emit(event: dict[str, Any]) -> None:
        if progress:
            with lock:
                progress(event)

    if ref.digest:
        raise InvalidArgument("cannot push a digest reference")
    emit({"status": f"The push refers to repository [{ref.familiar_repository}]"})
    registry = Registry(ref.domain, store.registry_config, credentials)
    try:
        return _push(store, registry, ref, emit)
    finally:
        registry.close()


def _push(store: ImageStore, registry: Registry, ref: Reference, emit: Progress) -> str:
    image_id = store.resolve(str(ref))
    raw, media, blobs = manifest_for(store, image_id)
    siblings = [m["repository"].split("/", 1)[1] for m in store.manifests(image_id)
                if m["repository"].split("/", 1)[0] == ref.domain
                and m["repository"] != ref.repository]

    def upload(desc: dict[str, Any]) -> None:
        layer_id = short_id(desc["digest"])
        if registry.has_blob(ref.path, desc["digest"]):
            emit({"status": "Layer already exists", "id": layer_id, "progressDetail": {}})
            return
        for other in siblings:
            if registry.mount_blob(ref.path, desc["digest"], other):
                emit({"status": f"Mounted from {other}", "id": layer_id, "progressDetail": {}})
                return
        registry.upload_blob(ref.path, desc["digest"], _chunks(store, desc["digest"]),
                             _LayerProgress(lambda e: emit({**e, "status": "Pushing"}),
                                            layer_id, desc["size"]))
        emit({"status": "Pushed", "id": layer_id, "progressDetail": {}})

    for desc in blobs[:-1]:
        emit({"status": "Preparing", "id": short_id(desc["digest"]), "progressDetail": {}})
    with ThreadPoolExecutor(max_workers=5) as pool:
        errors = [f.exception() for f in [pool.submit(upload, d) for d in blobs]]
    first = next((e for e in errors if e is not None), None)
    if first is not None:
        raise first
    digest = registry.put_manifest(ref.path, ref.tag or "latest", raw, media)
    digest = digest or store.content.put(raw)
    store.content.put(raw)
    store.db.execute("INSERT OR IGNORE INTO image_manifests VALUES (?,?,?,?)",
                     (image_id, ref.repository, digest, media))
    store.db.execute("INSERT OR REPLACE INTO image_names VALUES (?,?,?)",
                     (f"{ref.repository}@{digest}", image_id, "digest"))
    emit({"status": f"{ref.tag}: digest: {digest} size: {len(raw)}",
          "aux": {"Tag": ref.tag, "Digest": digest, "Size": len(raw)}})
    return digest
