"""Image volumes (Mount.image, KEP-4639): an image's filesystem, or a folder of it
(image_sub_path), read-only at a path of a pod container. Each is a read-only overlay of
the image's layers under the container's folder, then bound into the container as a host
path would be; the container holds the image as it holds its own."""

from __future__ import annotations

import os
import shutil
import stat
from typing import Any

from darse import syscalls
from darse.cri import userns
from darse.cri.node import Node
from darse.errors import InvalidArgument
from darse.fs.root import Root


def _folder(container_dir: str) -> str:
    return os.path.join(container_dir, "image-volumes")


def prepare(node: Node, container_dir: str, config: dict[str, Any],
            userns_path: str | None = None) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The config's mounts with each image volume turned into the host path of its
    overlay, and {container path: image id} of those volumes. Unmounts what it made if
    one of them is refused. userns_path: the pod's user namespace, whose root the
    image's files then belong to."""
    mounts, images = [], {}
    try:
        for n, m in enumerate(config.get("mounts") or []):
            wanted = (m.get("image") or {}).get("image", "")
            if not wanted:
                mounts.append(m)
                continue
            inside = m.get("container_path", "")
            if not m.get("readonly"):
                # An image's layers are shared by every user of it: never written.
                raise InvalidArgument(f"image volume {inside} must be read-only")
            image_id = node.images.resolve(wanted)
            target = os.path.join(_folder(container_dir), str(n))
            os.makedirs(target, mode=0o755)
            if userns_path:
                userns.mount_rootfs(node.images.snapshots, node.images.chain(image_id),
                                    target, None, None, userns_path)
            else:
                node.images.snapshots.mount(node.images.chain(image_id), target)
            source = target
            if m.get("image_sub_path"):
                source = _sub_path(target, m["image_sub_path"], wanted)
            mounts.append({**{k: v for k, v in m.items() if k not in ("image",
                                                                       "image_sub_path")},
                           "host_path": source, "readonly": True})
            images[inside] = image_id
    except BaseException:
        release(container_dir)
        raise
    return mounts, images


def _sub_path(root_dir: str, sub_path: str, image: str) -> str:
    """The folder sub_path names in the image, its links kept inside the image."""
    if sub_path.startswith("/") or ".." in sub_path.split("/"):
        raise InvalidArgument(f"image volume sub path {sub_path!r} must be relative, "
                              "without '..'")
    try:
        with Root(root_dir) as root:
            parts = root.resolve(sub_path)
            st = root.lstat(parts)
    except OSError:
        st = None
    if st is None or not parts:
        raise InvalidArgument(f"image volume sub path {sub_path!r} does not exist in "
                              f"image {image}")
    if not stat.S_ISDIR(st.st_mode):
        raise InvalidArgument(f"image volume sub path {sub_path!r} of image {image} is "
                              "not a folder")
    return os.path.join(root_dir, *parts)


def release(container_dir: str) -> None:
    """Every image volume of the container unmounted and its mount point gone."""
    folder = _folder(container_dir)
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return
    for name in names:
        try:
            # Not os.path.ismount: a one-layer image is a bind mount on the same device.
            syscalls.umount2(os.path.join(folder, name), syscalls.MNT_DETACH)
        except OSError:
            pass  # not mounted (create failed before)
    shutil.rmtree(folder, ignore_errors=True)


def status_mounts(config: dict[str, Any], images: dict[str, str]) -> list[dict[str, Any]]:
    """The mounts as asked, each image volume's image named by the id it was mounted
    from (ImageSpec.image_ref)."""
    out = []
    for m in config.get("mounts") or []:
        image_id = images.get(m.get("container_path", ""))
        if m.get("image") and image_id:
            m = {**m, "image": {**m["image"], "image_ref": image_id}}
        out.append(m)
    return out
