"""What the CRI services share: the engine's stores and shim, the CRI tables, and where
a pod's files (DATA/cri) and pins (EXEC/cri) go."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

from darse.cri.cni import DEFAULT_BIN_DIRS, DEFAULT_CONF_DIR, Cni
from darse.cri.store import CriStore
from darse.errors import InvalidArgument

if TYPE_CHECKING:
    from darse.engine.engine import Engine


def now_ns() -> int:
    return time.time_ns()


class Node:
    def __init__(self, engine: Engine, cni_conf_dir: str = DEFAULT_CONF_DIR,
                 cni_bin_dirs: tuple[str, ...] = DEFAULT_BIN_DIRS) -> None:
        self.engine = engine
        self.cni = Cni(cni_conf_dir, cni_bin_dirs)
        self.images = engine.images
        self.shim = engine.shim
        self.store = CriStore(engine.db)
        # A pause image to run as each pod's own container (daemon.json's
        # cri-sandbox-image, containerd's sandbox_image); none: pinned namespaces.
        self.sandbox_image = engine.config.cri_sandbox_image or ""
        if self.sandbox_image:
            from darse.image import reference

            if not isinstance(self.sandbox_image, str):
                raise InvalidArgument("cri-sandbox-image must be an image reference")
            try:
                reference.parse(self.sandbox_image)
            except InvalidArgument as exc:
                raise InvalidArgument(f"cri-sandbox-image: {exc}") from None
        self.data_dir = os.path.join(engine.config.data_root, "cri")
        self.exec_dir = os.path.join(engine.config.exec_root, "cri")
        for d in (self.data_dir, self.exec_dir):
            os.makedirs(d, mode=0o700, exist_ok=True)
        self._hook_image_users()
        self._reconcile()

    def sandbox_dir(self, sandbox_id: str) -> str:
        return os.path.join(self.data_dir, "sandboxes", sandbox_id)

    def sandbox_ns_dir(self, sandbox_id: str) -> str:
        return os.path.join(self.exec_dir, "sandboxes", sandbox_id, "ns")

    def container_dir(self, container_id: str) -> str:
        return os.path.join(self.data_dir, "containers", container_id)

    def open_walk(self) -> None:
        """The root of a pod's user namespace is an unprivileged host id: it must walk
        (never list) the data root's folders down to its rootfs and /etc files, as
        containerd's 0711 folders let it. What lies beside them keeps its own mode."""
        for path in (self.engine.config.data_root, self.data_dir,
                     os.path.join(self.data_dir, "containers"),
                     os.path.join(self.data_dir, "sandboxes")):
            os.makedirs(path, 0o711, exist_ok=True)
            mode = os.stat(path).st_mode & 0o7777
            if not mode & 0o001:
                os.chmod(path, mode | 0o001)

    def _reconcile(self) -> None:
        """A pod whose pinned namespaces are gone (the exec root lost with a reboot) is
        not ready any more: the kubelet then stops it and makes it anew."""
        for doc in self.store.sandboxes():
            if doc["state"] != "SANDBOX_READY":
                continue
            pinned = [p for p in doc.get("namespaces", {}).values() if p != "host"]
            if any(not os.path.ismount(p) for p in pinned):
                doc["state"] = "SANDBOX_NOTREADY"
                self.store.save_sandbox(doc)

    def _hook_image_users(self) -> None:
        """A pod's container holds its image and layers as a Docker container does: `darse
        rmi` and a pull's garbage collection must see it."""
        images = self.images
        docker_users, docker_layers = images.image_users, images.layer_users

        def image_users(image_id: str) -> list[tuple[str, bool]]:
            ours = [(c["id"], c.get("state") == "CONTAINER_RUNNING")
                    for c in self.store.containers() if c["image_id"] == image_id
                    or image_id in (c.get("image_volumes") or {}).values()]
            ours += [(s["id"], s["state"] == "SANDBOX_READY") for s in self.store.sandboxes()
                     if (s.get("infra") or {}).get("image_id") == image_id]
            return docker_users(image_id) + ours

        def layer_users() -> set[str]:
            out = set(docker_layers())
            for c in self.store.containers():
                for image_id in {c["image_id"], *(c.get("image_volumes") or {}).values()}:
                    try:
                        out.update(images.chain(image_id))
                    except Exception:  # noqa: BLE001 - an image gone: nothing to hold
                        continue
            for s in self.store.sandboxes():  # a pause image's layers, while its pod is
                image_id = (s.get("infra") or {}).get("image_id")
                if image_id:
                    try:
                        out.update(images.chain(image_id))
                    except Exception:  # noqa: BLE001 - an image gone: nothing to hold
                        continue
            return out

        images.image_users, images.layer_users = image_users, layer_users
