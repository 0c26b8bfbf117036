"""A container's mounts in the engine: made at create, mounted at start, let go at exit
and at removal. The parsing lives in darse.volume.mountspec, the volumes in its store."""

from __future__ import annotations

import os
import stat
from typing import TYPE_CHECKING, Any

from darse.errors import InvalidArgument, SystemFailure
from darse.fs import copy as fscopy
from darse.fs.root import Meta, Root
from darse.volume import mountspec

if TYPE_CHECKING:
    from darse.engine.engine import Engine

INTERNAL = "_mounts"  # the container document's private key (not shown by inspect)


def prepare(engine: Engine, config: dict[str, Any], host_config: dict[str, Any],
            image_config: dict[str, Any]) -> list[dict[str, Any]]:
    """Validate every mount first (nothing is made if one is wrong), then make the
    volumes and the -v host paths that are missing."""
    specs = mountspec.collect(config, host_config, image_config.get("Volumes"))
    for ref in host_config.get("VolumesFrom") or []:
        name, _, mode = ref.partition(":")
        if mode not in ("", "ro", "rw"):
            raise InvalidArgument(f"invalid mode for volumes-from: {mode}")
        other = engine.containers.find(name)
        taken = {m["Target"] for m in specs}
        for m in other.get(INTERNAL) or []:
            if m["Target"] in taken:
                continue
            copy = {k: v for k, v in m.items() if k != "Anonymous"}
            if mode:
                copy["RW"] = mode == "rw"
            specs.append(copy)
    for m in specs:
        if m["Type"] == "volume":
            made = False
            if not m.get("Name"):
                m["Name"] = engine.volumes.create(anonymous=True)["Name"]
                m["Anonymous"] = made = True
            elif not engine.volumes.exists(m["Name"]):
                engine.volumes.create(m["Name"], m.get("Driver") or "local",
                                      m.get("DriverOptions"), m.get("Labels"))
                made = True
            if made and engine.remap is not None:
                # A new volume belongs to the remapped root, as with Docker.
                os.chown(engine.volumes.path(m["Name"]), engine.remap.uid, engine.remap.gid)
        elif m["Type"] == "bind" and m.pop("CreateSource", False) and \
                not os.path.exists(m["Source"]):
            os.makedirs(m["Source"], mode=0o755)  # -v creates it, --mount does not
    return specs


def mount_points(engine: Engine, specs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [mountspec.mount_point(m, engine.volumes.path(m["Name"])
                                  if m["Type"] == "volume" else None) for m in specs]


def oci_mounts(engine: Engine, doc: dict[str, Any], rootfs: str) -> list[dict[str, Any]]:
    """At start: option volumes mounted, empty volumes filled from the image, then the
    OCI mounts."""
    out = []
    for m in doc.get(INTERNAL) or []:
        if m["Type"] == "volume":
            engine.volumes.acquire(m["Name"])
            source = engine.volumes.path(m["Name"])
            if not m.get("NoCopy"):
                copy_up(rootfs, m["Target"], source)
        else:
            source = m.get("Source", "")
            if m["Type"] == "bind" and not os.path.exists(source):
                raise InvalidArgument(f"invalid mount config for type \"bind\": bind source "
                                      f"path does not exist: {source}")
        out.append(mountspec.oci_mount(m, source))
    return out


def copy_up(rootfs: str, target: str, volume_dir: str) -> None:
    """The first time an empty volume is mounted over a path the image has files in,
    those files go into the volume (owners, modes, times, links kept), as Docker does.
    The image's links resolve inside the image, and nothing is written through a link:
    the copy goes through darse.fs like every write into content-controlled folders."""
    if os.listdir(volume_dir):
        return
    with Root(rootfs) as image:
        try:
            src = image.resolve(target)
        except OSError:
            return  # the image has nothing there (or a file on the way)
        st = image.lstat(src)
        if st is None or not stat.S_ISDIR(st.st_mode) or not image.listdir(src):
            return
        try:
            with Root(volume_dir) as volume:
                volume.set_meta((), Meta(st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)))
                fscopy.copy_tree(image, src, volume, ())
                volume.set_times((), st.st_atime_ns, st.st_mtime_ns)
        except OSError as exc:
            raise SystemFailure(f"copying {target} into its volume failed: "
                                f"{exc.strerror}: {exc.filename}") from None


def release(engine: Engine, doc: dict[str, Any]) -> None:
    for m in doc.get(INTERNAL) or []:
        if m["Type"] == "volume":
            engine.volumes.release(m["Name"])


def users(engine: Engine) -> dict[str, list[str]]:
    """volume name -> ids of the containers (running or not) that mount it."""
    out: dict[str, list[str]] = {}
    for doc in engine.containers.shared():
        for m in doc.get(INTERNAL) or []:
            if m["Type"] == "volume":
                out.setdefault(m["Name"], []).append(doc["Id"])
    return out


def remove_anonymous(engine: Engine, doc: dict[str, Any]) -> None:
    """rm -v: the container's anonymous volumes go with it (unless still used)."""
    in_use = users(engine)
    for m in doc.get(INTERNAL) or []:
        if m["Type"] == "volume" and m.get("Anonymous") and not in_use.get(m["Name"]):
            engine.volumes.remove(m["Name"], [], force=True)
