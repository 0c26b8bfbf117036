"""docker pull: resolve the manifest (and platform), then fetch every missing layer in
parallel, each decompressed and unpacked as its bytes arrive, both digests checked
before anything is kept."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from darse.errors import InvalidArgument
from darse.image import layer as layers
from darse.image import manifest as manifests
from darse.image import undo
from darse.image.reference import Reference
from darse.image.registry import Credentials, Registry
from darse.image.snapshots import chain_ids
from darse.image.store import ImageStore, short_id
from darse.image.unpacker import Unpackers

Progress = Callable[[dict[str, Any]], None]
MAX_CONCURRENT = 6


def _bar(current: int, total: int | None) -> str:
    def human(n: float) -> str:
        for unit in ("B", "kB", "MB", "GB"):
            if n < 1000 or unit == "GB":
                return f"{n:.3g}{unit}" if unit != "B" else f"{int(n)}B"
            n /= 1000
        return str(n)

    if not total:
        return human(current)
    width = 50
    done = min(width, current * width // total)
    arrow = "=" * max(done - 1, 0) + (">" if done < width else "=")
    return f"[{arrow:<{width}}] {human(current)}/{human(total)}"


class _LayerProgress:
    """Docker's per-layer Downloading events, at most a few per second."""

    def __init__(self, emit: Progress, layer_id: str, total: int) -> None:
        self.emit, self.id, self.total = emit, layer_id, total
        self.current = 0
        self.last = 0.0

    def __call__(self, n: int) -> None:
        self.current += n
        now = time.monotonic()
        if now - self.last > 0.1 or self.current == self.total:
            self.last = now
            self.emit({"status": "Downloading", "id": self.id, "progressDetail": {
                "current": self.current, "total": self.total},
                "progress": _bar(self.current, self.total)})


def fetch_layer(store: ImageStore, registry: Registry, repo: str, desc: dict[str, Any],
                chain_id: str, parent: str, diff_id: str, emit: Progress,
                made: undo.Made | None = None, unpackers: Unpackers | None = None) -> None:
    """Download, verify and unpack one layer into its snapshot (all or nothing); in a
    worker of unpackers when given, else in this thread."""
    layer_id = short_id(desc["digest"])
    if made is not None:
        made.layers.add(chain_id)
        made.blobs.add(desc["digest"])
    tmp = store.snapshots.prepare()
    source = store.content.open(desc["digest"]) if store.content.has(desc["digest"]) else \
        registry.blob_stream(repo, desc["digest"])
    stream = layers.HashReader(source, progress=_LayerProgress(emit, layer_id,
                                                               desc.get("size", 0)))
    writer = None if hasattr(source, "fileno") else \
        store.content.writer(hashed_by=lambda: stream.digest)
    stream.tee = writer.write if writer else None
    worker = unpackers.start(f"{tmp}/diff") if unpackers else None
    try:
        if worker:
            while data := stream.read(layers.CHUNK):
                worker.write(data)
            got_diff_id, size = worker.result()
        else:
            got_diff_id, size = layers.unpack(stream, f"{tmp}/diff")
        stream.drain()
        if stream.digest != desc["digest"]:
            raise InvalidArgument(f"filesystem layer verification failed for digest "
                                  f"{desc['digest']}: got {stream.digest}")
        if got_diff_id != diff_id:
            raise InvalidArgument(f"layer {layer_id}: DiffID mismatch: the config says "
                                  f"{diff_id}, the layer is {got_diff_id}")
        emit({"status": "Download complete", "id": layer_id, "progressDetail": {}})
        if writer:
            writer.commit(desc["digest"], desc.get("size"))
        store.snapshots.commit(tmp, chain_id)
        store.add_layer(chain_id, diff_id, parent, size, desc["digest"], desc.get("size", 0),
                        desc.get("mediaType", ""))
        emit({"status": "Pull complete", "id": layer_id, "progressDetail": {}})
    except BaseException:
        if worker:
            worker.abort()  # it writes in tmp no more
        store.snapshots.discard(tmp)
        if writer:
            writer.abort()
        raise
    finally:
        source.close()


def pull(store: ImageStore, ref: Reference, platform: str | None = None,
         credentials: Credentials | None = None, progress: Progress | None = None) -> str:
    """Pull one reference; returns the image id. Nothing is kept unless all of it is."""
    lock = threading.Lock()

    def emit(event: dict[str, Any]) -> None:
        if progress:
            with lock:
                progress(event)

    registry = Registry(ref.domain, store.registry_config, credentials, mirrors=True)
    # An image not here yet: its unpacker starts while the manifest is fetched.
    unpackers = None if store.exists(str(ref)) else Unpackers()
    try:
        with undo.all_or_nothing(store) as made:
            return _pull(store, registry, ref, platform, emit, made, unpackers)
    finally:
        registry.close()
        if unpackers:
            unpackers.close()


def _pull(store: ImageStore, registry: Registry, ref: Reference, platform: str | None,
          emit: Progress, made: undo.Made, unpackers: Unpackers | None) -> str:
    raw, media, top_digest = registry.get_manifest(ref.path, ref.digest or ref.tag)
    # After the manifest, as dockerd: a pull that cannot start fails before any output,
    # and the API answers it with an HTTP error.
    emit({"status": f"Pulling from {ref.path}", "id": ref.tag or ref.digest})
    index_raw = None
    if manifests.is_index(raw, media):
        want = manifests.parse_platform(platform) if platform else None
        desc = manifests.select_platform(raw, want)
        index_raw, index_media = raw, media
        raw, media, _ = registry.get_manifest(ref.path, desc["digest"])
    elif platform:
        pass  # a single-platform image: its config says what it is, checked below
    m = manifests.parse_manifest(raw, media)
    media = m.get("mediaType") or media
    manifest_digest = store.content.put(raw)
    made.blobs.add(manifest_digest)
    if index_raw is not None:
        made.blobs.add(store.content.put(index_raw))
    config_digest = m["config"]["digest"]
    config_raw = store.content.read(config_digest) if store.content.has(config_digest) \
        else registry.get_blob(ref.path, config_digest)
    config = manifests.load_json(config_raw, "image config")
    made.blobs.add(store.content.put(config_raw, m["config"]["digest"]))
    if platform:
        want = manifests.parse_platform(platform)
        if config.get("architecture") and config["architecture"] != want["architecture"]:
            raise InvalidArgument(f"image with reference {ref.familiar()} was found but does "
                                  f"not match the specified platform: wanted "
                                  f"{manifests.platform_string(want)}, actual: "
                                  f"{config.get('os')}/{config['architecture']}")
    diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
    if len(diff_ids) != len(m["layers"]):
        raise InvalidArgument(f"invalid image {ref.familiar()}: {len(m['layers'])} layers but "
                              f"{len(diff_ids)} DiffIDs in its config")
    chain = chain_ids(diff_ids)
    existed = store.exists(m["config"]["digest"])
    jobs = []
    for i, (desc, chain_id) in enumerate(zip(m["layers"], chain, strict=False)):
        if store.has_layer(chain_id):
            emit({"status": "Already exists", "id": short_id(desc["digest"]),
                  "progressDetail": {}})
            continue
        emit({"status": "Pulling fs layer", "id": short_id(desc["digest"]), "progressDetail": {}})
        jobs.append((desc, chain_id, chain[i - 1] if i else "", diff_ids[i]))
    if jobs:
        # The unpacker started with the pull is used; when there was none (the name was
        # here already), one is started only if several layers would share this process.
        own = Unpackers() if len(jobs) > 1 and unpackers is None else None
        try:
            with ThreadPoolExecutor(max_workers=min(MAX_CONCURRENT, len(jobs))) as pool:
                futures = [pool.submit(fetch_layer, store, registry, ref.path, desc, chain_id,
                                       parent, diff_id, emit, made, own or unpackers)
                           for desc, chain_id, parent, diff_id in jobs]
                errors = [f.exception() for f in futures]
        finally:
            if own:
                own.close()
        first = next((e for e in errors if e is not None), None)
        if first is not None:
            raise first
    names = [ref] if ref.tag else []
    image_id = store.register(config_raw, names, (ref.repository, manifest_digest, media))
    if index_raw is not None:
        store.db.execute("INSERT OR IGNORE INTO image_manifests VALUES (?,?,?,?)",
                         (image_id, ref.repository, top_digest, index_media))
        store.db.execute("INSERT OR REPLACE INTO image_names VALUES (?,?,?)",
                         (f"{ref.repository}@{top_digest}", image_id, "digest"))
        store.db.execute("DELETE FROM image_names WHERE name=?",
                         (f"{ref.repository}@{manifest_digest}",))
    emit({"status": f"Digest: {top_digest}"})
    what = ref.familiar()
    emit({"status": f"Status: Image is up to date for {what}" if existed and not jobs
          else f"Status: Downloaded newer image for {what}"})
    return image_id


def pull_all_tags(store: ImageStore, ref: Reference, platform: str | None = None,
                  credentials: Credentials | None = None, progress: Progress | None = None
                  ) -> list[str]:
    """docker pull --all-tags: every tag of the repository, one after the other."""
    registry = Registry(ref.domain, store.registry_config, credentials, mirrors=True)
    try:
        tags = sorted(registry.tags(ref.path))
    finally:
        registry.close()
    return [pull(store, ref.with_tag(tag), platform, credentials, progress) for tag in tags]
