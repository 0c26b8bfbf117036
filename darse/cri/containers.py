"""A pod's containers: CreateContainer prepares the rootfs and the OCI spec (no process,
as containerd makes its task only at start); StartContainer has the shim create and start
it, with its output in the CRI log format at the kubelet's path; exits are read from the
shim."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import time
from typing import Any

from darse import syscalls
from darse.cri import imagevolumes, ocispec, sandboxes, userns
from darse.cri.node import Node, now_ns
from darse.cri.sandboxes import READY
from darse.engine import dataroot
from darse.errors import Conflict, DarseError, InvalidArgument, NotFound
from darse.runtime import kill as signals

CREATED, RUNNING, EXITED = "CONTAINER_CREATED", "CONTAINER_RUNNING", "CONTAINER_EXITED"


def _ns_of(rfc3339: str) -> int:
    """Nanoseconds since the epoch of the shim's times (microseconds, UTC)."""
    import datetime

    if not rfc3339:
        return now_ns()
    dt = datetime.datetime.fromisoformat(rfc3339.replace("Z", "+00:00"))
    return int(dt.timestamp()) * 10**9 + dt.microsecond * 1000


def create(node: Node, sandbox_id: str, config: dict[str, Any]) -> str:
    sandbox = node.store.sandbox(sandbox_id)
    if sandbox["state"] != READY:
        raise Conflict(f"pod sandbox {sandbox['id']} is not ready")
    meta = config.get("metadata") or {}
    if not meta.get("name"):
        raise InvalidArgument("container config must include metadata.name")
    image_name = (config.get("image") or {}).get("image", "")
    if not image_name:
        raise InvalidArgument("container config must include image.image")
    image_id = node.images.resolve(image_name)
    image_config = node.images.config(image_id).get("config") or {}
    cid = secrets.token_hex(32)
    log_dir = sandbox["config"].get("log_directory", "")
    log_path = os.path.join(log_dir, config["log_path"]) \
        if log_dir and config.get("log_path") else ""
    doc = {"id": cid, "sandbox_id": sandbox["id"],
           "name": f"{meta['name']}_{sandbox['name']}_{meta.get('attempt', 0)}",
           "config": config, "image_id": image_id, "image_ref": image_id,
           "created_at": now_ns(), "started_at": 0, "finished_at": 0, "exit_code": 0,
           "state": CREATED, "reason": "", "message": "", "log_path": log_path, "pid": 0}
    node.store.add_container(doc)
    cdir = node.container_dir(cid)
    rootfs = os.path.join(cdir, "rootfs")
    try:
        os.makedirs(cdir, mode=0o700)
        # The upper folder's mode is the container's "/": any user must be able to walk it.
        for sub, mode in (("rootfs", 0o700), ("upper", 0o755), ("work", 0o700)):
            os.mkdir(os.path.join(cdir, sub), mode)
            os.chmod(os.path.join(cdir, sub), mode)
        chain = node.images.chain(image_id)
        owner = userns.root_ids(sandbox)
        if owner is None:
            node.images.snapshots.mount(chain, rootfs, os.path.join(cdir, "upper"),
                                        os.path.join(cdir, "work"))
        else:
            # Its root, an unprivileged host id, walks to its rootfs (darsed's start
            # closed the data root again since the pod was made).
            node.open_walk()
            os.chmod(cdir, 0o711)
            userns.mount_rootfs(node.images.snapshots, chain, rootfs,
                                os.path.join(cdir, "upper"), os.path.join(cdir, "work"),
                                sandbox["namespaces"]["user"], owner)
        workdir = config.get("working_dir") or image_config.get("WorkingDir")
        if workdir:
            from darse.fs.root import Root

            with Root(rootfs) as root:
                root.makedirs(workdir)
        mounts, doc["image_volumes"] = imagevolumes.prepare(
            node, cdir, config, sandbox["namespaces"].get("user"))
        mounts = userns.idmap_mounts(mounts, cdir, sandbox)
        spec = ocispec.build(container_id=cid, config={**config, "mounts": mounts},
                             sandbox=sandbox,
                             sandbox_dir=node.sandbox_dir(sandbox["id"]), rootfs=rootfs,
                             image_config=image_config,
                             pod_pid_ns=sandboxes.pod_pid_ns(sandbox),
                             target_pid_ns=_target_pid_ns(node, config))
        dataroot.write_private(os.path.join(cdir, "config.json"), json.dumps(spec).encode())
        user = spec["process"]["user"]
        doc["user"] = {"uid": user["uid"], "gid": user["gid"],
                       "supplemental_groups": list(user.get("additionalGids") or [])}
        node.store.save_container(doc)
    except BaseException:
        _unmount(rootfs)
        imagevolumes.release(cdir)
        userns.release_mounts(cdir)
        shutil.rmtree(cdir, ignore_errors=True)
        node.store.remove_container(cid)
        raise
    return cid


def _target_pid_ns(node: Node, config: dict[str, Any]) -> str | None:
    """The PID namespace of the container a TARGET pid mode names (ephemeral containers
    of `kubectl debug --target`), which must be running."""
    opts = ((config.get("linux") or {}).get("security_context") or {}).get(
        "namespace_options") or {}
    if opts.get("pid") != "TARGET":
        return None
    target = refresh(node, node.store.container(opts.get("target_id", "")))
    if target["state"] != RUNNING or not target.get("pid"):
        raise Conflict(f"target container {target['id']} is not running")
    return f"/proc/{target['pid']}/ns/pid"


def start(node: Node, ref: str) -> None:
    doc = node.store.container(ref)
    if doc["state"] != CREATED:
        raise Conflict(f"container {doc['id']} is in {doc['state']} state, not "
                       f"{CREATED}")
    sandbox = node.store.sandbox(doc["sandbox_id"])
    if sandbox["state"] != READY:
        raise Conflict(f"pod sandbox {sandbox['id']} is not ready")
    cid, config = doc["id"], doc["config"]
    if doc["log_path"]:
        os.makedirs(os.path.dirname(doc["log_path"]), exist_ok=True)
    try:
        node.shim.call("delete", id=cid)
        node.shim.call("create", id=cid, bundle=node.container_dir(cid),
                       tty=bool(config.get("tty")), stdin=bool(config.get("stdin")),
                       log_path=doc["log_path"], log_format="cri")
        node.shim.call("start", id=cid)
    except DarseError as exc:
        node.shim.call("delete", id=cid)
        doc.update(state=EXITED, exit_code=128, reason="StartError", message=str(exc),
                   started_at=now_ns(), finished_at=now_ns())
        node.store.save_container(doc)
        raise
    listed = {c["id"]: c for c in node.shim.call("list")["containers"]}
    doc.update(state=RUNNING, started_at=now_ns(), pid=listed.get(cid, {}).get("pid", 0))
    node.store.save_container(doc)


def refresh(node: Node, doc: dict[str, Any],
            listed: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The record, brought up to date with the shim for a container that was running."""
    if doc["state"] != RUNNING:
        return doc
    if listed is None:
        listed = {c["id"]: c for c in node.shim.call("list")["containers"]}
    info = listed.get(doc["id"])
    if info is not None and info["running"]:
        return doc
    if info is not None:
        code, finished = info["exit_code"], info["finished_at"]
    else:
        path = os.path.join(node.engine.config.exec_root, "exits", doc["id"])
        try:
            with open(path) as f:
                rec = json.load(f)
            code, finished = rec["exit_code"], rec["finished_at"]
        except (OSError, ValueError, KeyError):
            code, finished = 255, ""
    reason = "Completed" if code == 0 else "Error"
    if code != 0 and _oom_killed(node, doc["id"]):
        reason = "OOMKilled"
    # The start time is darsed's, taken after the shim's start answered: a process that
    # ended at once may show an end the shim stamped a moment before it.
    finished_ns = max(_ns_of(finished), doc.get("started_at") or 0)
    doc.update(state=EXITED, exit_code=code, finished_at=finished_ns, pid=0, reason=reason)
    node.store.save_container(doc)
    return doc


def _oom_killed(node: Node, container_id: str) -> bool:
    """Whether the kernel's OOM killer struck in the container's cgroup (still there until
    the container is removed): oom_kill in memory.oom_control (v1) or memory.events (v2)."""
    from darse.runtime import state

    try:
        st = state.load(os.path.join(node.engine.config.exec_root, "runtime"), container_id)
    except DarseError:
        return False
    paths = st.cgroup_paths or {}
    candidates = [(paths.get("memory"), "memory.oom_control"), (paths.get(""), "memory.events")]
    for directory, name in candidates:
        if not directory:
            continue
        try:
            with open(os.path.join(directory, name)) as f:
                for line in f:
                    key, _, value = line.partition(" ")
                    if key == "oom_kill" and value.strip().isdigit() and int(value) > 0:
                        return True
        except OSError:
            continue
    return False


def _stop_signal(doc: dict[str, Any], node: Node) -> int:
    named = doc["config"].get("stop_signal", "SIGNAL_RUNTIME_DEFAULT")
    if isinstance(named, str) and named.startswith("SIGNAL_SIG"):
        return signals.parse_signal(named.removeprefix("SIGNAL_"))
    try:
        image = (node.images.config(doc["image_id"]).get("config") or {})
        return signals.parse_signal(image.get("StopSignal") or "SIGTERM")
    except DarseError:
        return signals.parse_signal("SIGTERM")


def _wait_exit(node: Node, doc: dict[str, Any], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if refresh(node, doc)["state"] != RUNNING:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)


def stop(node: Node, ref: str, timeout: int) -> None:
    """The stop signal, SIGKILL after timeout seconds; idempotent (an unknown id or a
    stopped container is already stopped)."""
    try:
        doc = refresh(node, node.store.container(ref))
    except NotFound:
        return
    if doc["state"] != RUNNING:
        return
    cid = doc["id"]
    try:
        if timeout > 0:
            node.shim.call("kill", id=cid, signal=_stop_signal(doc, node))
        if timeout <= 0 or not _wait_exit(node, doc, timeout):
            node.shim.call("kill", id=cid, signal=9, all=True)
    except DarseError:
        pass  # gone meanwhile
    _wait_exit(node, doc, 30)


def remove(node: Node, ref: str) -> None:
    """Killed if running, then its process, rootfs and record gone; idempotent."""
    try:
        doc = node.store.container(ref)
    except NotFound:
        return
    cid = doc["id"]
    try:
        node.shim.call("delete", id=cid)
    except (DarseError, OSError):
        pass
    cdir = node.container_dir(cid)
    _unmount(os.path.join(cdir, "rootfs"))
    imagevolumes.release(cdir)
    userns.release_mounts(cdir)
    shutil.rmtree(cdir, ignore_errors=True)
    node.store.remove_container(cid)


def _unmount(rootfs: str) -> None:
    if os.path.ismount(rootfs):
        try:
            syscalls.umount2(rootfs, syscalls.MNT_DETACH)
        except OSError:
            pass


def status(node: Node, ref: str) -> dict[str, Any]:
    doc = refresh(node, node.store.container(ref))
    config = doc["config"]
    return {
        "id": doc["id"], "metadata": config.get("metadata") or {}, "state": doc["state"],
        "created_at": str(doc["created_at"]), "started_at": str(doc["started_at"]),
        "finished_at": str(doc["finished_at"]), "exit_code": doc["exit_code"],
        "image": config.get("image") or {}, "image_ref": doc["image_ref"],
        "image_id": doc["image_id"], "reason": doc["reason"], "message": doc["message"],
        "labels": config.get("labels") or {}, "annotations": config.get("annotations") or {},
        "mounts": imagevolumes.status_mounts(config, doc.get("image_volumes") or {}),
        "log_path": doc["log_path"],
        "resources": {"linux": (config.get("linux") or {}).get("resources") or {}},
        # The identity its first process was given (KEP-3619), as the spec says it.
        "user": {"linux": doc["user"]} if doc.get("user") else {},
    }


def listing(node: Node, flt: dict[str, Any]) -> list[dict[str, Any]]:
    listed = {c["id"]: c for c in node.shim.call("list")["containers"]}
    want_state = (flt.get("state") or {}).get("state", CREATED) if "state" in flt else None
    out = []
    for doc in node.store.containers():
        if flt.get("id") and not doc["id"].startswith(flt["id"]):
            continue
        if flt.get("pod_sandbox_id") and not doc["sandbox_id"].startswith(
                flt["pod_sandbox_id"]):
            continue
        doc = refresh(node, doc, listed)
        if want_state is not None and doc["state"] != want_state:
            continue
        config = doc["config"]
        labels = config.get("labels") or {}
        if any(labels.get(k) != v for k, v in (flt.get("label_selector") or {}).items()):
            continue
        out.append({"id": doc["id"], "pod_sandbox_id": doc["sandbox_id"],
                    "metadata": config.get("metadata") or {},
                    "image": config.get("image") or {}, "image_ref": doc["image_ref"],
                    "image_id": doc["image_id"], "state": doc["state"],
                    "created_at": str(doc["created_at"]), "labels": labels,
                    "annotations": config.get("annotations") or {}})
    return out


def reopen_log(node: Node, ref: str) -> None:
    doc = refresh(node, node.store.container(ref))
    if doc["state"] != RUNNING:
        raise Conflict(f"container {doc['id']} is not running")
    node.shim.call("reopen_log", id=doc["id"])
