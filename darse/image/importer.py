"""docker import: a root filesystem tarball (plain, gzip or zstd) as a one-layer image."""

from __future__ import annotations

import datetime
import json
import os
from typing import IO

from darse.image import changes as config_changes
from darse.image import layer as layers
from darse.image import manifest as manifests
from darse.image import mediatypes, undo
from darse.image import reference as refs
from darse.image.store import ImageStore


def import_image(store: ImageStore, stream: IO[bytes], name: str | None = None,
                 changes: list[str] = (), message: str = "", platform: str | None = None,
                 source: str = "-") -> str:
    """Make the image; returns its id. A bad tarball or change keeps nothing."""
    ref = refs.parse(name) if name else None
    plat = manifests.parse_platform(platform) if platform else manifests.host_platform()
    now = datetime.datetime.now(datetime.UTC).isoformat().replace("+00:00", "Z")
    config = {"architecture": plat["architecture"], "os": plat["os"], "created": now,
              "config": {}}
    if plat.get("variant"):
        config["variant"] = plat["variant"]
    for change in changes:
        config_changes.apply(config, change)  # before any byte is stored
    with undo.all_or_nothing(store) as made:
        tmp = store.snapshots.prepare()
        try:
            writer = store.content.writer()
        except BaseException:
            store.snapshots.discard(tmp)
            raise
        try:
            raw = layers.HashReader(stream, tee=writer.write)
            diff_id, size = layers.unpack(raw, os.path.join(tmp, "diff"))
            raw.drain()
            blob = writer.commit()
            made.blobs.add(blob)
            with store.content.open(blob) as f:
                head = f.read(4)
            media = mediatypes.DOCKER_LAYER if head[:2] == b"\x1f\x8b" else \
                mediatypes.OCI_LAYER_ZSTD if head == b"\x28\xb5\x2f\xfd" else \
                mediatypes.OCI_LAYER
            if not store.has_layer(diff_id):
                made.layers.add(diff_id)
            store.snapshots.commit(tmp, diff_id)
        except BaseException:
            store.snapshots.discard(tmp)
            writer.abort()
            raise
        store.add_layer(diff_id, diff_id, "", size, blob, store.content.size(blob), media)
        config["rootfs"] = {"type": "layers", "diff_ids": [diff_id]}
        config["history"] = [{"created": now, "created_by": "",
                              "comment": message or f"Imported from {source}"}]
        return store.register(json.dumps(config).encode(), [ref] if ref else [])
