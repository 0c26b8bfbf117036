"""A pod's user namespace (KEP-127, NamespaceOption.userns_options): NODE is the host's;
POD is one namespace for the whole pod, with the one uid and one gid range the kubelet
chose for it (container ids from 0), made by the pod's sandbox container (darse.cri.infra)
and joined by each of its containers."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from darse import syscalls
from darse.errors import InvalidArgument, SystemFailure

if TYPE_CHECKING:
    from darse.image.snapshots import Snapshots

MAX_ID = 2**32 - 1  # (uid_t)-1 is no id


def options(config: dict[str, Any]) -> dict[str, Any]:
    """The NamespaceOption.userns_options of a pod's (or a container's) config, its mode
    spelled out: POD is the enum's zero (left out on the wire), and a config without the
    message (a kubelet from before user namespaces) means the host's."""
    ns = ((config.get("linux") or {}).get("security_context") or {}).get(
        "namespace_options") or {}
    if "userns_options" not in ns:
        return {"mode": "NODE"}
    return {"mode": "POD", **ns["userns_options"]}


def _mapping(items: list[dict[str, Any]], kind: str) -> dict[str, int]:
    if len(items) != 1:
        raise InvalidArgument(f"user namespace: exactly one {kind} mapping is supported, "
                              f"got {len(items)}")
    m = items[0]
    container_id, host_id = int(m.get("container_id", 0)), int(m.get("host_id", 0))
    length = int(m.get("length", 0))
    if container_id != 0:
        raise InvalidArgument(f"user namespace: the {kind} mapping must start at container "
                              f"id 0, not {container_id}")
    if length <= 0 or host_id + length > MAX_ID:
        raise InvalidArgument(f"user namespace: invalid {kind} mapping: host id {host_id}, "
                              f"length {length}")
    return {"containerID": 0, "hostID": host_id, "size": length}


def mappings(config: dict[str, Any]) -> dict[str, list[dict[str, int]]] | None:
    """{"uid": [...], "gid": [...]} in the OCI spec's form for a POD mode, None for NODE;
    what the runtime cannot do is refused, before anything is made."""
    opts = options(config)
    mode = opts["mode"]
    if mode == "NODE":
        if opts.get("uids") or opts.get("gids"):
            raise InvalidArgument("user namespace: mappings given with mode NODE")
        return None
    if mode != "POD":
        raise InvalidArgument(f"user namespace: unsupported mode {mode}")
    ns = ((config.get("linux") or {}).get("security_context") or {}).get(
        "namespace_options") or {}
    for kind in ("network", "pid", "ipc"):
        if ns.get(kind) == "NODE":
            raise InvalidArgument(f"user namespace: a pod with its own user namespace "
                                  f"cannot use the host's {kind} namespace")
    return {"uid": [_mapping(opts.get("uids") or [], "uid")],
            "gid": [_mapping(opts.get("gids") or [], "gid")]}


def root_ids(doc: dict[str, Any]) -> tuple[int, int] | None:
    """The host uid and gid of the pod's root, for a pod with its own user namespace."""
    maps = doc.get("userns")
    if not maps:
        return None
    return maps["uid"][0]["hostID"], maps["gid"][0]["hostID"]


def mount_rootfs(snapshots: Snapshots, chain: list[str], target: str, upper: str | None,
                 work: str | None, userns_path: str,
                 owner: tuple[int, int] | None = None) -> None:
    """The overlay of an image's layers for the pod's user namespace (a container's
    rootfs, writable in upper; or an image volume, read-only without one): each layer
    through an idmapped mount of that namespace, so that root's files are the pod root's
    and none is copied; upper owned by the pod's root. The layers' mounts are dropped once
    the overlay holds them (an overlay itself cannot be idmapped)."""
    if upper is not None and owner is not None:
        os.chown(upper, *owner)
    base = target + ".layers"
    os.mkdir(base, 0o700)
    lowers: list[str] = []
    fd = os.open(userns_path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        for i, chain_id in enumerate(chain):
            path = os.path.join(base, str(i))
            os.mkdir(path, 0o700)
            try:
                syscalls.idmapped_bind(snapshots.diff(chain_id), path, fd)
            except OSError:
                os.rmdir(path)
                raise
            lowers.append(path)
        snapshots.mount(chain, target, upper, work, lowers=lowers)
    except OSError as exc:
        raise SystemFailure(f"user namespace: cannot map the image's layers: "
                            f"{exc.strerror}") from None
    finally:
        os.close(fd)
        for path in lowers:
            syscalls.umount2(path, syscalls.MNT_DETACH)
            os.rmdir(path)  # never a recursive removal: a layer may still be there
        os.rmdir(base)


def idmap_mounts(mounts: list[dict[str, Any]], cdir: str, doc: dict[str, Any]
                 ) -> list[dict[str, Any]]:
    """Bind mounts the kubelet asks to be idmapped (Mount.uidMappings/gidMappings, its
    volumes in a pod of its own user namespace): each source seen through the pod's user
    namespace, so that the host root's files are the pod root's, from an idmapped mount
    made here (inside the namespace, the runtime may not make one). Other mappings than
    the pod's are refused."""
    out = []
    fd = None
    try:
        for i, m in enumerate(mounts):
            if not (m.get("uidMappings") or m.get("gidMappings")):
                out.append(m)
                continue
            if not doc.get("userns"):
                raise InvalidArgument(f"mount {m.get('container_path')}: idmapped mounts "
                                      "need a pod with its own user namespace")
            for kind, key in (("uid", "uidMappings"), ("gid", "gidMappings")):
                wanted = [{"containerID": int(x.get("container_id", 0)),
                           "hostID": int(x.get("host_id", 0)),
                           "size": int(x.get("length", 0))} for x in m.get(key) or []]
                if wanted != doc["userns"][kind]:
                    raise InvalidArgument(f"mount {m.get('container_path')}: {kind} "
                                          "mappings other than the pod's are not supported")
            source = m.get("host_path", "")
            if not os.path.exists(source):
                raise InvalidArgument(f"failed to mount {source}: no such file or directory")
            if fd is None:
                fd = os.open(doc["namespaces"]["user"], os.O_RDONLY | os.O_CLOEXEC)
                os.makedirs(os.path.join(cdir, "idmapped"), 0o711, exist_ok=True)
            target = os.path.join(cdir, "idmapped", str(i))
            if os.path.isdir(source):
                os.mkdir(target, 0o700)
            else:
                os.close(os.open(target, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o600))
            try:
                syscalls.idmapped_bind(source, target, fd)
            except OSError as exc:
                raise SystemFailure(f"mount {m.get('container_path')}: cannot idmap "
                                    f"{source}: {exc.strerror}") from None
            out.append({**m, "host_path": target})
    finally:
        if fd is not None:
            os.close(fd)
    return out


def release_mounts(cdir: str) -> None:
    """The idmapped mounts idmap_mounts() made, unmounted and gone (never a recursive
    removal: a source may still be mounted there)."""
    folder = os.path.join(cdir, "idmapped")
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return
    for name in names:
        path = os.path.join(folder, name)
        try:
            syscalls.umount2(path, syscalls.MNT_DETACH)
        except OSError:
            pass
        try:
            os.rmdir(path) if os.path.isdir(path) else os.unlink(path)
        except OSError:
            pass
    try:
        os.rmdir(folder)
    except OSError:
        pass
