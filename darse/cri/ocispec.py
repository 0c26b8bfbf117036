"""A pod container's OCI spec: Docker's defaults (darse.engine.spec, so seccomp's
RuntimeDefault is Docker's profile and privileged means what it means there), changed as
the CRI config asks, in the pod's namespaces."""

from __future__ import annotations

import base64
import os
from typing import Any

from darse.engine import spec as docker_spec
from darse.engine import users
from darse.errors import InvalidArgument
from darse.runtime import capabilities

PROPAGATION = {"PROPAGATION_PRIVATE": "rprivate", "PROPAGATION_HOST_TO_CONTAINER": "rslave",
               "PROPAGATION_BIDIRECTIONAL": "rshared"}


def _security_opts(sc: dict[str, Any]) -> list[str]:
    out = []
    profile = sc.get("seccomp") or {}
    kind = profile.get("profile_type", "RuntimeDefault")
    if "seccomp" not in sc and not sc.get("seccomp_profile_path"):
        # No profile named at all: unconfined, as containerd and CRI-O read the CRI (the
        # kubelet always names one: RuntimeDefault unless the pod says otherwise).
        kind = "Unconfined"
    elif not profile and sc.get("seccomp_profile_path"):
        path = sc["seccomp_profile_path"]
        kind = {"runtime/default": "RuntimeDefault", "docker/default": "RuntimeDefault",
                "unconfined": "Unconfined", "": "Unconfined"}.get(path, "Localhost")
        profile = {"localhost_ref": path.removeprefix("localhost/")}
    if kind == "Unconfined":
        out.append("seccomp=unconfined")
    elif kind == "Localhost":
        out.append(f"seccomp={profile.get('localhost_ref', '')}")
    if sc.get("no_new_privs"):
        out.append("no-new-privileges")
    return out


def host_config(config: dict[str, Any], sandbox_config: dict[str, Any]) -> dict[str, Any]:
    """The Docker HostConfig that says the same as the CRI config."""
    linux = config.get("linux") or {}
    sc = linux.get("security_context") or {}
    res = linux.get("resources") or {}
    caps = sc.get("capabilities") or {}
    pod_linux = sandbox_config.get("linux") or {}
    return {
        "Privileged": bool(sc.get("privileged")),
        "CapAdd": caps.get("add_capabilities") or [],
        "CapDrop": caps.get("drop_capabilities") or [],
        "ReadonlyRootfs": bool(sc.get("readonly_rootfs")),
        "SecurityOpt": _security_opts(sc),
        "Memory": int(res.get("memory_limit_in_bytes") or 0),
        "MemorySwap": int(res.get("memory_swap_limit_in_bytes") or 0),
        "CpuShares": int(res.get("cpu_shares") or 0),
        "CpuQuota": int(res.get("cpu_quota") or 0),
        "CpuPeriod": int(res.get("cpu_period") or 0),
        "CpusetCpus": res.get("cpuset_cpus") or "",
        "OomScoreAdj": int(res.get("oom_score_adj") or 0),
        "Sysctls": pod_linux.get("sysctls") or {},
        "Devices": [{"PathOnHost": d.get("host_path", ""),
                     "PathInContainer": d.get("container_path", ""),
                     "CgroupPermissions": d.get("permissions") or "rwm"}
                    for d in config.get("devices") or []],
    }


def process_user(rootfs: str, config: dict[str, Any], image_user: str) -> dict[str, Any]:
    sc = (config.get("linux") or {}).get("security_context") or {}
    if "run_as_group" in sc and "run_as_user" not in sc and not sc.get("run_as_username"):
        raise InvalidArgument("run_as_group is set without run_as_user or run_as_username")
    if "run_as_user" in sc:
        name = str(sc["run_as_user"].get("value", 0))
    elif sc.get("run_as_username"):
        name = sc["run_as_username"]
    else:
        name = image_user.split(":", 1)[0] if image_user else "0"
    if "run_as_group" in sc:
        name += f":{sc['run_as_group'].get('value', 0)}"
    elif ":" in (image_user or "") and "run_as_user" not in sc \
            and not sc.get("run_as_username"):
        name = image_user
    user = users.resolve(rootfs, name)
    gids = list(user.get("additionalGids") or [])
    if sc.get("supplemental_groups_policy") == "Strict":
        # Strict: the groups the pod names, never those the image's /etc/group gives.
        gids = [user["gid"]]
    extra = [int(g) for g in sc.get("supplemental_groups") or []]
    user["additionalGids"] = gids + [g for g in extra if g not in gids]
    return user


def command(config: dict[str, Any], image_config: dict[str, Any]) -> list[str]:
    """The kubelet's rule: command replaces the entrypoint, args replace the cmd."""
    entrypoint = list(config.get("command") or []) or list(image_config.get("Entrypoint") or [])
    args = list(config.get("args") or [])
    if not args and not config.get("command"):
        args = list(image_config.get("Cmd") or [])
    argv = entrypoint + args
    if not argv:
        raise InvalidArgument("no command specified")
    return argv


def environment(config: dict[str, Any], image_config: dict[str, Any]) -> list[str]:
    env = {}
    for item in image_config.get("Env") or [docker_spec.DEFAULT_PATH]:
        key, _, value = item.partition("=")
        env[key] = value
    for kv in config.get("envs") or []:
        # bytes on the wire (any value a Pod spec can hold): base64 in the JSON mapping
        value = base64.b64decode(kv.get("value", "")).decode("utf-8", "replace")
        env[kv.get("key", "")] = value
    return [f"{k}={v}" for k, v in env.items()]


def mounts(config: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for m in config.get("mounts") or []:
        host, inside = m.get("host_path", ""), m.get("container_path", "")
        if not inside.startswith("/"):
            raise InvalidArgument(f"mount destination {inside!r} must be an absolute path")
        if not os.path.exists(host):
            raise InvalidArgument(f"failed to mount {host}: no such file or directory")
        propagation = m.get("propagation", "PROPAGATION_PRIVATE")
        options = ["rbind", PROPAGATION.get(propagation, "rprivate")]
        options.append("ro" if m.get("readonly") else "rw")
        if m.get("recursive_read_only"):
            # Mounts made later under a propagating one would escape the read-only flag.
            if not m.get("readonly"):
                raise InvalidArgument(f"recursive read-only mount {inside} needs readonly")
            if propagation != "PROPAGATION_PRIVATE":
                raise InvalidArgument(f"recursive read-only mount {inside} must be "
                                      "private, not " + propagation)
            options.append("rro")
        out.append({"destination": inside, "type": "bind", "source": host,
                    "options": options})
    return out


def clamp_oom_score_adj(value: int) -> int:
    """Lowering a score below darsed's own needs CAP_SYS_RESOURCE; on a host that withholds
    it (a container, a restricted node) the kubelet's -997 would fail every guaranteed
    pod: such a score is raised to darsed's own (containerd's restrict_oom_score_adj)."""
    try:
        with open("/proc/self/oom_score_adj") as f:
            own = int(f.read())
    except (OSError, ValueError):
        return value
    if value < own and "CAP_SYS_RESOURCE" not in capabilities.bounding_of_self():
        return own
    return value


def build(*, container_id: str, config: dict[str, Any], sandbox: dict[str, Any],
          sandbox_dir: str, rootfs: str, image_config: dict[str, Any],
          pod_pid_ns: str | None = None, target_pid_ns: str | None = None
          ) -> dict[str, Any]:
    """pod_pid_ns: the pod's shared PID namespace, if it has one; target_pid_ns: that of
    the container a TARGET mode names."""
    sandbox_config = sandbox["config"]
    hc = host_config(config, sandbox_config)
    hc["OomScoreAdj"] = clamp_oom_score_adj(hc["OomScoreAdj"])
    cfg = {"Tty": bool(config.get("tty")),
           "WorkingDir": config.get("working_dir") or image_config.get("WorkingDir") or "/",
           "Hostname": sandbox.get("hostname", "")}
    user = process_user(rootfs, config, image_config.get("User") or "")
    namespaces = sandbox["namespaces"]
    netns = "host" if namespaces.get("net") == "host" else namespaces.get("net")
    if netns == "host":
        hc["NetworkMode"] = "host"
    spec = docker_spec.build(container_id=container_id, config=cfg, host_config=hc,
                             rootfs=rootfs, container_dir=sandbox_dir,
                             args=command(config, image_config),
                             env=environment(config, image_config), user=user, netns=netns,
                             extra_mounts=mounts(config))
    linux = spec["linux"]
    sc = (config.get("linux") or {}).get("security_context") or {}
    ns_opts = sc.get("namespace_options") or {}
    kept = []
    for ns in linux["namespaces"]:
        kind = ns["type"]
        if kind == "ipc":
            if namespaces.get("ipc") == "host":
                continue
            ns = {"type": "ipc", "path": namespaces["ipc"]}
        elif kind == "uts":
            if namespaces.get("uts") == "host":
                continue
            ns = {"type": "uts", "path": namespaces["uts"]}
        elif kind == "pid":
            mode = ns_opts.get("pid", "POD")
            if mode == "NODE":
                continue
            if mode == "POD" and pod_pid_ns:
                ns = {"type": "pid", "path": pod_pid_ns}
            elif mode == "TARGET" and target_pid_ns:
                ns = {"type": "pid", "path": target_pid_ns}
        kept.append(ns)
    if namespaces.get("user"):
        # The pod's user namespace (userns mode POD), made with its mappings by its
        # sandbox container: joined, so no mappings of the container's own.
        kept.append({"type": "user", "path": namespaces["user"]})
    linux["namespaces"] = kept
    if not any(ns["type"] == "uts" and "path" not in ns for ns in kept):
        spec.pop("hostname", None)  # the pod's (or the host's) UTS namespace has it
    if not sc.get("privileged"):
        if sc.get("masked_paths"):
            linux["maskedPaths"] = list(sc["masked_paths"])
        if sc.get("readonly_paths"):
            linux["readonlyPaths"] = list(sc["readonly_paths"])
    kinds = {m.get("propagation", "PROPAGATION_PRIVATE") for m in config.get("mounts") or []}
    # A propagating mount needs the container's root to pass mounts on (containerd's rule).
    if "PROPAGATION_BIDIRECTIONAL" in kinds:
        linux["rootfsPropagation"] = "rshared"
    elif "PROPAGATION_HOST_TO_CONTAINER" in kinds:
        linux["rootfsPropagation"] = "rslave"
    parent = ((sandbox_config.get("linux") or {}).get("cgroup_parent") or "").rstrip("/")
    linux["cgroupsPath"] = f"{parent}/darse-{container_id}" if parent \
        else f"/darse/{container_id}"
    return spec
