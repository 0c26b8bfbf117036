"""docker commit: a container's changes as a new image over its own (POST /commit).

The layer is the container's overlay upper folder, packed as the builder packs a RUN
step's (darse.image.layer.pack_to_blob, the /etc files darse binds left out), and
unpacked as a snapshot of its own. The container is paused meanwhile unless asked not
to be, as dockerd does, so that the layer is one moment of it.
"""

from __future__ import annotations

import copy
import datetime
import hashlib
import json
import tarfile
import tempfile
from typing import TYPE_CHECKING, Any

from darse.errors import Conflict, DarseError, InvalidArgument
from darse.image import changes as config_changes
from darse.image import layer as layers
from darse.image import reference as refs
from darse.image.mediatypes import DOCKER_LAYER

if TYPE_CHECKING:
    from darse.engine.engine import Engine

MOUNT_POINTS = ("etc/hostname", "etc/hosts", "etc/resolv.conf")
# What a commit's config in the request may set over the container's (docker's merge).
_OVERRIDES = ("Hostname", "Domainname", "User", "AttachStdin", "AttachStdout",
              "AttachStderr", "ExposedPorts", "Tty", "OpenStdin", "StdinOnce", "Env", "Cmd",
              "Healthcheck", "ArgsEscaped", "Image", "Volumes", "WorkingDir", "Entrypoint",
              "NetworkDisabled", "MacAddress", "OnBuild", "Labels", "StopSignal",
              "StopTimeout", "Shell")


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat().replace("+00:00", "Z")


def commit(engine: Engine, ref: str, repo: str | None = None, tag: str | None = None,
           comment: str = "", author: str = "", pause: bool = True,
           changes: list[str] = (), overrides: dict[str, Any] | None = None
           ) -> dict[str, str]:
    doc = engine.containers.find(ref)
    target = None
    if repo:
        target = refs.parse(f"{repo}:{tag}" if tag else repo)
        if target.digest:
            raise InvalidArgument("refusing to create a tag with a digest reference")
    base = engine.images.config(doc["Image"])
    config = copy.deepcopy(base)
    run = copy.deepcopy(doc["Config"])
    for key, value in (overrides or {}).items():
        if key in _OVERRIDES and value not in (None, "", [], {}):
            run[key] = value
    config["config"] = run
    for change in changes:
        config_changes.apply(config, change)  # a bad one refused before any work
    now = _now()
    entry: dict[str, Any] = {"created": now,
                             "created_by": " ".join([doc["Path"], *doc["Args"]])}
    if comment:
        entry["comment"] = comment
    if author:
        entry["author"] = author
    paused_here = False
    if pause and doc["State"]["Running"] and not doc["State"]["Paused"]:
        try:
            engine.pause(doc["Id"], True)
            paused_here = True
        except Conflict:
            pass  # it ended meanwhile: its files are still, nothing to pause
    try:
        diff_id = _layer(engine, doc, config)
    finally:
        if paused_here and engine.is_running(doc["Id"]):
            try:
                engine.pause(doc["Id"], False)
            except DarseError:
                pass  # unpaused or stopped meanwhile
    config["history"] = [*(config.get("history") or []), entry]
    config["created"] = now
    config["container"] = doc["Id"]
    config["container_config"] = doc["Config"]
    if author:
        config["author"] = author
    else:
        config.pop("author", None)
    config.pop("comment", None)
    rootfs = config.setdefault("rootfs", {"type": "layers", "diff_ids": []})
    rootfs["diff_ids"] = [*(rootfs.get("diff_ids") or []), diff_id]
    image_id = engine.images.register(json.dumps(config).encode(), [target] if target else [])
    engine.images.set_parent(image_id, doc["Image"])
    engine._event(doc, "commit", comment=comment, imageID=image_id,
                  imageRef=str(target) if target else "")
    return {"Id": image_id}


def _layer(engine: Engine, doc: dict[str, Any], config: dict[str, Any]) -> str:
    """The container's upper folder as the image's next layer; its DiffID."""
    images = engine.images
    upper = doc["GraphDriver"]["Data"]["UpperDir"]
    remap = engine.remap
    if remap is not None and doc["HostConfig"].get("UsernsMode") != "host":
        blob, blob_size, diff_id, size = _pack_unshifted(engine, upper)
    else:
        blob, blob_size, diff_id, size = layers.pack_to_blob(images.content, upper,
                                                             MOUNT_POINTS)
    images.store_layer((config.get("rootfs") or {}).get("diff_ids") or [], diff_id, size,
                       blob, blob_size, DOCKER_LAYER)
    return diff_id


class _Hashed:
    """write() that hashes and counts what passes on (the layer's DiffID and size)."""

    def __init__(self, target: Any) -> None:
        self.target, self.hash, self.size = target, hashlib.sha256(), 0

    def write(self, data: bytes) -> int:
        self.hash.update(data)
        self.size += len(data)
        return self.target.write(data)


def _pack_unshifted(engine: Engine, upper: str) -> tuple[str, int, str, int]:
    """A userns-remapped container's upper folder holds host ids shifted into its range:
    the layer gets the container's own (dockerd's too), so that the image is the same
    whichever daemon runs it. Packed as the builder packs, then its headers rewritten."""
    remap = engine.remap
    content = engine.images.content

    def inside(host_id: int, base: int) -> int:
        return host_id - base if 0 <= host_id - base < remap.size else 65534

    with tempfile.TemporaryFile(dir=content.tmpdir) as raw:
        layers.pack(upper, raw, MOUNT_POINTS)
        raw.seek(0)
        with content.writer() as w:
            with layers.gzip_writer(w) as gz:
                hashed = _Hashed(gz)
                with tarfile.open(fileobj=raw, mode="r|") as src, \
                        tarfile.open(fileobj=hashed, mode="w|", format=tarfile.PAX_FORMAT) \
                        as dst:
                    for ti in src:
                        ti.uid, ti.gid = inside(ti.uid, remap.uid), inside(ti.gid, remap.gid)
                        dst.addfile(ti, src.extractfile(ti) if ti.isreg() else None)
            blob = w.commit()
    return blob, content.size(blob), "sha256:" + hashed.hash.hexdigest(), hashed.size
