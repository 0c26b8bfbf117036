"""A pod's own container, as containerd runs its sandbox (pause) container: it makes the
pod's network, IPC and UTS namespaces (and its user namespace), is pid 1 of the pod's PID
namespace, and does nothing else. darse runs one when daemon.json names a pause image
(`cri-sandbox-image`), and for a pod with its own user namespace, whose namespaces only a
process inside it can make (then catatonit, from the host, when no image is named).

Its namespaces are pinned as those of a pod without one are (darse.cri.namespaces), so
the rest of darse.cri sees the same paths either way; it lives in darse-shim beside the
pod's containers, under the sandbox's id, and the kubelet never sees it."""

from __future__ import annotations

import json
import os
import shutil
import time
from typing import Any

from darse import syscalls
from darse.cri import images as cri_images
from darse.cri import namespaces as pins
from darse.cri.node import Node
from darse.engine import dataroot, users
from darse.errors import DarseError, InvalidArgument, NotFound, SystemFailure

CATATONIT = "/usr/bin/catatonit"
PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
OCI_KIND = {"net": "network", "ipc": "ipc", "uts": "uts", "user": "user"}


def wanted(node: Node, userns: dict[str, Any] | None) -> bool:
    return bool(node.sandbox_image) or userns is not None


def image_id(node: Node) -> str:
    """The pause image, pulled (through the registry mirrors) when it is not here yet, as
    containerd pulls its sandbox_image."""
    try:
        return node.images.resolve(node.sandbox_image)
    except NotFound:
        pass
    try:
        return cri_images.pull(node, node.sandbox_image, {})
    except DarseError as exc:
        raise SystemFailure(f"sandbox image {node.sandbox_image!r}: {exc}") from None


def _builtin_root(node: Node) -> str:
    """A read-only root holding catatonit alone, shared by the pods that need a process of
    their own and have no pause image."""
    root = os.path.join(node.data_dir, "infra-root")
    if os.path.exists(os.path.join(root, "catatonit")):
        return root
    if not os.access(CATATONIT, os.X_OK):
        raise SystemFailure(f"a pod with its own user namespace needs {CATATONIT} or a "
                            "pause image (daemon.json's cri-sandbox-image)")
    tmp = root + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(os.path.join(tmp, "proc"), 0o755)
    shutil.copy2(CATATONIT, os.path.join(tmp, "catatonit"))
    os.chmod(tmp, 0o755)
    try:
        os.rename(tmp, root)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)  # another pod made it first
    return root


def _spec(doc: dict[str, Any], root: str, args: list[str], env: list[str],
          user: dict[str, Any], kinds: tuple[str, ...]) -> dict[str, Any]:
    namespaces = [{"type": "mount"}, {"type": "cgroup"}]
    namespaces += [{"type": OCI_KIND[k]} for k in kinds]
    opts = doc["ns_options"]
    if opts["pid"] != "NODE":
        namespaces.append({"type": "pid"})
    parent = (((doc["config"].get("linux") or {}).get("cgroup_parent") or "")
              .rstrip("/"))
    linux: dict[str, Any] = {
        "namespaces": namespaces,
        "cgroupsPath": f"{parent}/darse-{doc['id']}" if parent else f"/darse/{doc['id']}",
    }
    if doc.get("userns"):
        linux["uidMappings"], linux["gidMappings"] = doc["userns"]["uid"], doc["userns"]["gid"]
    spec: dict[str, Any] = {
        "ociVersion": "1.0.2",
        "process": {"args": args, "cwd": "/", "env": env, "noNewPrivileges": True,
                    "user": {"uid": user["uid"], "gid": user["gid"]},
                    "capabilities": {k: [] for k in ("bounding", "effective", "permitted",
                                                     "inheritable", "ambient")}},
        "root": {"path": root, "readonly": True},
        # /proc alone: the runtime reads /proc/self there before the exec.
        "mounts": [{"destination": "/proc", "type": "proc", "source": "proc",
                    "options": ["nosuid", "noexec", "nodev"]}],
        "linux": linux,
    }
    if "uts" in kinds:
        spec["hostname"] = doc["hostname"]
    return spec


def start(node: Node, doc: dict[str, Any], kinds: tuple[str, ...]) -> dict[str, str]:
    """Run the pod's container, making the namespaces of kinds (of net, ipc, uts, user);
    {kind: pinned path}. What it made is in doc["infra"], for stop() and release()."""
    sid = doc["id"]
    folder = node.sandbox_dir(sid)
    infra: dict[str, Any] = {"image_id": "", "rootfs": ""}
    doc["infra"] = infra
    if node.sandbox_image:
        iid = image_id(node)
        infra["image_id"] = iid
        config = node.images.config(iid).get("config") or {}
        args = list(config.get("Entrypoint") or []) + list(config.get("Cmd") or [])
        if not args:
            raise InvalidArgument(f"sandbox image {node.sandbox_image!r} has no command")
        root = os.path.join(folder, "rootfs")
        upper, work = os.path.join(folder, "upper"), os.path.join(folder, "work")
        for path in (root, upper, work):
            os.mkdir(path, 0o755)
        if doc.get("userns"):  # its root makes /proc there
            os.chown(upper, doc["userns"]["uid"][0]["hostID"],
                     doc["userns"]["gid"][0]["hostID"])
        # Writable for the runtime's mount points alone: the root is read-only.
        node.images.snapshots.mount(node.images.chain(iid), root, upper, work)
        infra["rootfs"] = root
        user = users.resolve(root, config.get("User") or "0")
        env = list(config.get("Env") or [PATH])
    else:
        root, args, env = _builtin_root(node), ["/catatonit", "-P"], [PATH]
        user = {"uid": 0, "gid": 0}
    spec = _spec(doc, root, args, env, user, kinds)
    dataroot.write_private(os.path.join(folder, "config.json"), json.dumps(spec).encode())
    node.shim.call("delete", id=sid)
    node.shim.call("create", id=sid, bundle=folder, tty=False, stdin=False)
    infra["created"] = True
    node.shim.call("start", id=sid)
    listed = {c["id"]: c for c in node.shim.call("list")["containers"]}
    pid = listed.get(sid, {}).get("pid", 0)
    if not pid:
        raise SystemFailure("the pod's sandbox container ended at once")
    infra.update(pid=pid, ino=os.stat(f"/proc/{pid}/ns/pid").st_ino)
    return pins.pin_process(node.sandbox_ns_dir(sid), pid, kinds)


def stop(node: Node, doc: dict[str, Any]) -> None:
    """Killed, with anything left in its PID namespace, and out of the shim."""
    infra = doc.get("infra")
    if not infra or not infra.get("created"):
        return
    sid = doc["id"]
    try:
        node.shim.call("kill", id=sid, signal=9, all=True)
    except DarseError:
        pass  # ended already
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        listed = {c["id"]: c for c in node.shim.call("list")["containers"]}
        if not listed.get(sid, {}).get("running"):
            break
        time.sleep(0.01)
    try:
        node.shim.call("delete", id=sid)
    except (DarseError, OSError):
        pass
    infra["created"] = False


def release(doc: dict[str, Any]) -> None:
    """The pause image's rootfs unmounted (after stop())."""
    infra = doc.get("infra") or {}
    root = infra.get("rootfs")
    if root and os.path.ismount(root):
        try:
            syscalls.umount2(root, syscalls.MNT_DETACH)
        except OSError:
            pass
