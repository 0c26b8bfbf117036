"""ImageService over darse's image store: the same images `darse images` lists (a node's
images are the engine's), named in full (docker.io/library/busybox:latest) as the
kubelet compares them."""

from __future__ import annotations

import base64
import threading
import time
from typing import Any

from darse.cri.node import Node
from darse.errors import InvalidArgument, NotFound
from darse.image import reference
from darse.image.pull import pull as pull_image
from darse.image.registry import Credentials


def _names(node: Node, image_id: str) -> tuple[list[str], list[str]]:
    rows = node.images.db.execute("SELECT name, kind FROM image_names WHERE image_id=? "
                                  "ORDER BY rowid", (image_id,)).fetchall()
    return ([r["name"] for r in rows if r["kind"] == "tag"],
            [r["name"] for r in rows if r["kind"] == "digest"])


def _is_sandbox_image(node: Node, image_id: str) -> bool:
    if not node.sandbox_image:
        return False
    try:
        return node.images.resolve(node.sandbox_image) == image_id
    except (NotFound, InvalidArgument):
        return False


def describe(node: Node, image_id: str) -> dict[str, Any]:
    tags, digests = _names(node, image_id)
    out: dict[str, Any] = {"id": image_id, "repo_tags": tags, "repo_digests": digests,
                           "size": str(node.images.size(image_id)),
                           "spec": {"image": image_id},
                           # The pause image: the kubelet's image collection leaves it.
                           "pinned": _is_sandbox_image(node, image_id)}
    user = ((node.images.config(image_id).get("config") or {}).get("User") or "")
    user = user.split(":", 1)[0]
    if user.isdigit():
        out["uid"] = {"value": user}
    elif user:
        out["username"] = user
    return out


def listing(node: Node, flt: dict[str, Any]) -> list[dict[str, Any]]:
    wanted = ((flt.get("image") or {}).get("image") or "")
    if wanted:
        try:
            return [describe(node, node.images.resolve(wanted))]
        except NotFound:
            return []
    return [describe(node, i) for i in node.images.image_ids()]


def status(node: Node, name: str) -> dict[str, Any] | None:
    """The image, or None when it is not there (not an error: the kubelet then pulls)."""
    try:
        return describe(node, node.images.resolve(name))
    except NotFound:
        return None
    except InvalidArgument:
        return None


def credentials(auth: dict[str, Any]) -> Credentials | None:
    username, password = auth.get("username", ""), auth.get("password", "")
    if auth.get("auth") and not username:
        try:
            username, _, password = base64.b64decode(auth["auth"]).decode().partition(":")
        except ValueError:
            raise InvalidArgument("invalid auth in the pull request") from None
    token = auth.get("identity_token", "")
    if not (username or token):
        return None
    return Credentials(username, password, token)


def pull(node: Node, name: str, auth: dict[str, Any]) -> str:
    """The image's id, once every layer of it is in the store."""
    if not name:
        raise InvalidArgument("image name is empty")
    return pull_image(node.images, reference.parse(name), credentials=credentials(auth))


_removing = threading.Lock()


def remove(node: Node, name: str) -> None:
    """Every name of the image, and the image when no container holds it; idempotent,
    also when several callers remove it at once: one removes it, the others find it gone
    (each returns once it is gone, as the kubelet's image GC and critest expect)."""
    with _removing:
        try:
            image_id = node.images.resolve(name)
            node.images.remove(image_id, force=True)
        except (NotFound, InvalidArgument):
            return  # gone already (a `docker rmi` meanwhile too)


def fs_info(node: Node) -> dict[str, Any]:
    row = node.images.db.execute("SELECT COALESCE(SUM(size), 0) AS used, COUNT(*) AS n "
                                 "FROM layers").fetchone()
    return {"image_filesystems": [{
        "timestamp": str(time.time_ns()),
        "fs_id": {"mountpoint": node.images.snapshots.dir},
        "used_bytes": {"value": str(row["used"])},
        "inodes_used": {"value": "0"}}]}
