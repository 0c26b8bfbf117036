"""docker system df: what images, containers and volumes take on disk (GET /system/df).

Sizes are Docker's: an image's Size counts all its layers, SharedSize those another
image has too, LayersSize each layer once; a container's SizeRw is what it wrote; a
volume's Size what it holds, RefCount the containers that mount it.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import TYPE_CHECKING, Any

from darse.engine import volumes as mounts

if TYPE_CHECKING:
    from darse.engine.engine import Engine


def tree_size(path: str) -> int:
    """Bytes of what is not a folder under path, a hard-linked file once; nothing is
    followed (a volume's content is its containers')."""
    seen: set[tuple[int, int]] = set()
    total = 0
    stack = [path]
    while stack:
        try:
            entries = os.scandir(stack.pop())
        except OSError:
            continue
        with entries:
            for entry in entries:
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                elif (st.st_dev, st.st_ino) not in seen:
                    seen.add((st.st_dev, st.st_ino))
                    total += st.st_size
    return total


def disk_usage(engine: Engine) -> dict[str, Any]:
    images = engine.images
    summaries = images.list()
    chains = {s["Id"]: images.chain(s["Id"]) for s in summaries}
    layer_size: dict[str, int] = {}
    for chain in chains.values():
        for c in chain:
            if c not in layer_size:
                layer = images.layer(c)
                layer_size[c] = layer["size"] if layer else 0
    users = Counter(c for chain in chains.values() for c in set(chain))
    docs = engine.containers.shared()
    per_image = Counter(d["Image"] for d in docs)
    for s in summaries:
        s["SharedSize"] = sum(layer_size[c] for c in set(chains[s["Id"]]) if users[c] > 1)
        s["Containers"] = per_image.get(s["Id"], 0)
    containers = engine.list(all=True, size=True)
    in_use = mounts.users(engine)
    volumes = engine.volume_list()
    for v in volumes:
        v["UsageData"] = {"Size": tree_size(v["Mountpoint"]),
                          "RefCount": len(in_use.get(v["Name"], []))}
    return {"LayersSize": sum(layer_size.values()), "Images": summaries,
            "Containers": containers, "Volumes": volumes, "BuildCache": [],
            "BuilderSize": 0}
