"""RunPodSandbox and the rest of a pod's life: a sandbox is the pod's pinned namespaces
(network, IPC, UTS; the host's where the pod asks for NODE) and its /etc files, with no
process of its own (docs/design.md)."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import time
from typing import Any

from darse.cri import cni, files, infra, userns
from darse.cri import namespaces as pins
from darse.cri.node import Node, now_ns
from darse.errors import InvalidArgument, NotFound
from darse.runtime import state as proc_state

READY, NOTREADY = "SANDBOX_READY", "SANDBOX_NOTREADY"


def ns_options(config: dict[str, Any]) -> dict[str, str]:
    """The pod's NamespaceOption, every mode spelled out (protobuf omits the default)."""
    opts = (((config.get("linux") or {}).get("security_context") or {})
            .get("namespace_options") or {})
    return {"network": opts.get("network", "POD"), "pid": opts.get("pid", "POD"),
            "ipc": opts.get("ipc", "POD")}


def sandbox_name(config: dict[str, Any]) -> str:
    """The unique name the kubelet's metadata makes (containerd's and CRI-O's form)."""
    meta = config.get("metadata") or {}
    if not meta.get("name"):
        raise InvalidArgument("sandbox config must include metadata.name")
    return "_".join([meta["name"], meta.get("namespace", ""), meta.get("uid", ""),
                     str(meta.get("attempt", 0))])


def run(node: Node, config: dict[str, Any], runtime_handler: str = "") -> str:
    if runtime_handler not in ("", "darse", "runc"):
        raise InvalidArgument(f"no runtime for {runtime_handler!r} is configured")
    opts = ns_options(config)
    maps = userns.mappings(config)
    host_network = opts["network"] == "NODE"
    sid = secrets.token_hex(32)
    doc = {"id": sid, "name": sandbox_name(config), "config": config,
           "runtime_handler": runtime_handler, "created_at": now_ns(), "state": READY,
           "namespaces": {}, "ip": "", "ns_options": opts, "userns": maps}
    node.store.add_sandbox(doc)  # reserves the name before anything is made
    folder = node.sandbox_dir(sid)
    try:
        hostname = socket.gethostname() if host_network else \
            (config.get("hostname") or sid[:12])
        doc["hostname"] = hostname
        files.write(folder, hostname, config.get("dns_config") or {}, host_network)
        kinds = tuple(k for k, mode in (("net", opts["network"]), ("ipc", opts["ipc"]),
                                        ("uts", opts["network"])) if mode != "NODE")
        if infra.wanted(node, maps):
            if maps is not None:
                node.open_walk()  # its root walks to its rootfs and /etc files
                kinds += ("user",)
            made = infra.start(node, doc, kinds)
        else:
            made = pins.pin(node.sandbox_ns_dir(sid), kinds, hostname)
        doc["namespaces"] = {k: made.get(k, "host") for k in ("net", "ipc", "uts")}
        if "user" in made:
            doc["namespaces"]["user"] = made["user"]
        if opts["pid"] == "POD" and not doc.get("infra"):
            doc["pod_init"] = _start_pod_init(node)
        node.store.save_sandbox(doc)
        net = node.cni.network() if not host_network else None
        if net is not None:
            result = node.cni.add(net, sid, made["net"], _cni_args(doc),
                                  {"portMappings": cni.port_mappings(config)})
            doc["cni"] = {"network": net, "result": result}
            doc["ip"] = (cni.pod_ips(result) or [""])[0]
        node.store.save_sandbox(doc)
    except BaseException:
        _kill_pod_init(doc.get("pod_init"))
        infra.stop(node, doc)
        pins.unpin(node.sandbox_ns_dir(sid))
        infra.release(doc)
        shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(os.path.dirname(node.sandbox_ns_dir(sid)), ignore_errors=True)
        node.store.remove_sandbox(sid)
        raise
    return sid


def _start_pod_init(node: Node) -> dict[str, int]:
    """pid 1 of the pod's PID namespace (shareProcessNamespace), from the shim; its pid
    and the namespace's inode, so that a reused pid is never taken for it."""
    pid = node.shim.call("pod_init")["pid"]
    return {"pid": pid, "ino": os.stat(f"/proc/{pid}/ns/pid").st_ino}


def pod_pid_ns(doc: dict[str, Any]) -> str | None:
    """/proc/PID/ns/pid of the pod's init while it is the one started for this pod."""
    init = doc.get("pod_init")
    if not init and ns_options(doc["config"])["pid"] == "POD":
        init = doc.get("infra")  # pid 1 of the PID namespace it made
    if not init or not init.get("pid"):
        return None
    path = f"/proc/{init['pid']}/ns/pid"
    try:
        return path if os.stat(path).st_ino == init["ino"] else None
    except OSError:
        return None


def _held(doc: dict[str, Any]) -> bool:
    """Whether the pod's own process (its pause container, or the pid 1 of its shared PID
    namespace), when it has one, still runs: without it the pod is not ready, as
    containerd says of a pod whose pause container ended."""
    for init in (doc.get("infra"), doc.get("pod_init")):
        if not init or not init.get("pid"):
            continue
        try:
            if os.stat(f"/proc/{init['pid']}/ns/pid").st_ino != init["ino"]:
                return False
        except OSError:
            return False
        st = proc_state.proc_stat(init["pid"])
        if st is None or st[0] in "ZX":
            return False
    return True


def _state(node: Node, doc: dict[str, Any]) -> str:
    if doc["state"] == READY and not _held(doc):
        doc["state"] = NOTREADY
        node.store.save_sandbox(doc)
    return doc["state"]


def _kill_pod_init(init: dict[str, int] | None) -> None:
    if not init:
        return
    try:
        if os.stat(f"/proc/{init['pid']}/ns/pid").st_ino != init["ino"]:
            return
        os.kill(init["pid"], signal.SIGKILL)  # and with it the namespace's processes
    except OSError:
        return
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # gone (or a zombie the shim reaps) once we return
        st = proc_state.proc_stat(init["pid"])
        if st is None or st[0] in "ZX":
            return
        time.sleep(0.01)


def _cni_args(doc: dict[str, Any]) -> dict[str, str]:
    meta = doc["config"].get("metadata") or {}
    return {"IgnoreUnknown": "1", "K8S_POD_NAMESPACE": meta.get("namespace", ""),
            "K8S_POD_NAME": meta.get("name", ""), "K8S_POD_INFRA_CONTAINER_ID": doc["id"],
            "K8S_POD_UID": meta.get("uid", "")}


def stop(node: Node, ref: str) -> None:
    """Its containers killed, its namespaces released; idempotent, and an unknown id is
    already stopped."""
    from darse.cri import containers

    try:
        doc = node.store.sandbox(ref)
    except NotFound:
        return
    for c in node.store.containers(doc["id"]):
        containers.stop(node, c["id"], 0)
    if doc.get("cni"):
        # Kept (and the pod READY) if a plugin fails: the kubelet stops it again.
        node.cni.delete(doc["cni"]["network"], doc["id"], doc["namespaces"]["net"],
                        _cni_args(doc), {"portMappings": cni.port_mappings(doc["config"])},
                        doc["cni"]["result"])
        doc["cni"] = None
        node.store.save_sandbox(doc)
    pins.unpin(node.sandbox_ns_dir(doc["id"]))
    _kill_pod_init(doc.get("pod_init"))
    infra.stop(node, doc)
    infra.release(doc)
    if doc["state"] != NOTREADY:
        doc["state"] = NOTREADY
        node.store.save_sandbox(doc)


def remove(node: Node, ref: str) -> None:
    """Stopped first if need be, then gone with its containers; idempotent."""
    from darse.cri import containers

    try:
        doc = node.store.sandbox(ref)
    except NotFound:
        return
    stop(node, doc["id"])
    for c in node.store.containers(doc["id"]):
        containers.remove(node, c["id"])
    shutil.rmtree(os.path.dirname(node.sandbox_ns_dir(doc["id"])), ignore_errors=True)
    shutil.rmtree(node.sandbox_dir(doc["id"]), ignore_errors=True)
    node.store.remove_sandbox(doc["id"])


def status(node: Node, ref: str) -> dict[str, Any]:
    """PodSandboxStatus, as a dict of the message's fields."""
    doc = node.store.sandbox(ref)
    config = doc["config"]
    return {
        "id": doc["id"], "metadata": config.get("metadata") or {}, "state": _state(node, doc),
        "created_at": str(doc["created_at"]),
        "network": {"ip": doc.get("ip", "")},
        "linux": {"namespaces": {"options": {**ns_options(config),
                                             "userns_options": userns.options(config)}}},
        "labels": config.get("labels") or {}, "annotations": config.get("annotations") or {},
        "runtime_handler": doc.get("runtime_handler", ""),
    }


def listing(node: Node, flt: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    want_state = (flt.get("state") or {}).get("state") if "state" in flt else None
    for doc in node.store.sandboxes():
        config = doc["config"]
        if flt.get("id") and not doc["id"].startswith(flt["id"]):
            continue
        _state(node, doc)
        if want_state is not None and doc["state"] != want_state:
            continue
        if "state" in flt and want_state is None and doc["state"] != READY:
            continue  # a state filter with the default value: READY
        labels = config.get("labels") or {}
        if any(labels.get(k) != v for k, v in (flt.get("label_selector") or {}).items()):
            continue
        out.append({"id": doc["id"], "metadata": config.get("metadata") or {},
                    "state": doc["state"], "created_at": str(doc["created_at"]),
                    "labels": labels, "annotations": config.get("annotations") or {},
                    "runtime_handler": doc.get("runtime_handler", "")})
    return out
