"""config.json: loading, validation that names the faulty field, and the default spec.

Validation runs before anything is made on the host, so that a bad config changes
nothing (OCI runtime spec, config.md and config-linux.md).
"""

from __future__ import annotations

import json
import os
import resource

from darse.errors import InvalidArgument, NotFound
from darse.runtime import capabilities, seccomp, sysctl

TYPE_CHECKING = False  # typing costs milliseconds at every container start
if TYPE_CHECKING:
    from typing import Any

OCI_VERSION = "1.2.0"

NAMESPACE_TYPES = ("pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time")
PROPAGATIONS = ("", "private", "rprivate", "slave", "rslave", "shared", "rshared",
                "unbindable", "runbindable")
HOOK_KINDS = ("prestart", "createRuntime", "createContainer", "startContainer",
              "poststart", "poststop")
RLIMITS = {name: getattr(resource, name) for name in dir(resource) if name.startswith("RLIMIT_")}


def _fail(field: str, why: str) -> InvalidArgument:
    return InvalidArgument(f"config.json: {field}: {why}")


def load(bundle: str) -> dict[str, Any]:
    path = os.path.join(bundle, "config.json")
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise NotFound(f"JSON specification file {path} not found") from None
    try:
        config = json.loads(raw)
    except ValueError as exc:
        raise InvalidArgument(f"config.json: invalid JSON: {exc}") from None
    validate(config)
    return config


def _expect(value: Any, kind: type | tuple[type, ...], field: str) -> None:
    if isinstance(value, bool) and kind in (int, (int,)):
        raise _fail(field, "must be an integer")
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise _fail(field, f"must be of type {names}, not {type(value).__name__}")


def _strings(value: Any, field: str) -> None:
    _expect(value, list, field)
    for i, item in enumerate(value):
        _expect(item, str, f"{field}[{i}]")


def validate(config: Any) -> None:
    """Raise InvalidArgument naming the first field that a runtime cannot honour."""
    _expect(config, dict, "(top level)")
    _expect(config.get("ociVersion"), str, "ociVersion")
    root = config.get("root")
    _expect(root, dict, "root")
    _expect(root.get("path"), str, "root.path")
    if not root["path"]:
        raise _fail("root.path", "must not be empty")
    _expect(root.get("readonly", False), bool, "root.readonly")
    if "hostname" in config:
        _expect(config["hostname"], str, "hostname")
    if "domainname" in config:
        _expect(config["domainname"], str, "domainname")
    if "process" in config:
        _validate_process(config["process"], "process")
    _validate_mounts(config.get("mounts", []))
    _validate_hooks(config.get("hooks", {}))
    linux = config.get("linux", {})
    _expect(linux, dict, "linux")
    _validate_linux(linux)
    kinds = {ns["type"] for ns in linux.get("namespaces", []) if not ns.get("path")}
    joined = {ns["type"] for ns in linux.get("namespaces", [])}
    if "mount" not in joined:
        # The spec: the container inherits the runtime's mount namespace (runc, crun).
        # What only a private one can hold is refused, in runc's words where it has some.
        if linux.get("maskedPaths") or linux.get("readonlyPaths"):
            raise _fail("linux.namespaces", "unable to restrict sys entries without a "
                        "private MNT namespace")
        if root.get("readonly"):
            raise _fail("root.readonly", "a read-only root needs a private mount namespace")
        if linux.get("rootfsPropagation"):
            raise _fail("linux.rootfsPropagation", "rootfs propagation needs a private "
                        "mount namespace")
    # A UTS namespace joined by path is the container's too: the hostname is set in it.
    if config.get("hostname") and "uts" not in joined:
        raise _fail("hostname", "unable to set hostname without a private UTS namespace")
    if config.get("domainname") and "uts" not in joined:
        raise _fail("domainname", "unable to set domainname without a private UTS namespace")
    if (linux.get("uidMappings") or linux.get("gidMappings")) and "user" not in kinds:
        raise _fail("linux.uidMappings", "user namespace mappings need a new user namespace")
    if "user" in kinds and not (linux.get("uidMappings") and linux.get("gidMappings")):
        raise _fail("linux.uidMappings", "a new user namespace needs uid and gid mappings")
    sysctl.validate(linux)


def _validate_process(proc: Any, field: str) -> None:
    _expect(proc, dict, field)
    args = proc.get("args")
    if not args:
        raise _fail(f"{field}.args", "must be a non-empty list of strings")
    _strings(args, f"{field}.args")
    cwd = proc.get("cwd", "/")
    _expect(cwd, str, f"{field}.cwd")
    if not cwd.startswith("/"):
        raise _fail(f"{field}.cwd", f"must be an absolute path, not {cwd!r}")
    env = proc.get("env", [])
    _strings(env, f"{field}.env")
    for i, item in enumerate(env):
        if "=" not in item:
            raise _fail(f"{field}.env[{i}]", f"must be KEY=VALUE, not {item!r}")
    _expect(proc.get("terminal", False), bool, f"{field}.terminal")
    user = proc.get("user", {})
    _expect(user, dict, f"{field}.user")
    for key in ("uid", "gid", "umask"):
        if key in user:
            _expect(user[key], int, f"{field}.user.{key}")
    for i, gid in enumerate(user.get("additionalGids", [])):
        _expect(gid, int, f"{field}.user.additionalGids[{i}]")
    for i, rl in enumerate(proc.get("rlimits", [])):
        _expect(rl, dict, f"{field}.rlimits[{i}]")
        if rl.get("type") not in RLIMITS:
            raise _fail(f"{field}.rlimits[{i}].type", f"unknown rlimit {rl.get('type')!r}")
        for key in ("soft", "hard"):
            _expect(rl.get(key), int, f"{field}.rlimits[{i}].{key}")
    if "capabilities" in proc:
        _expect(proc["capabilities"], dict, f"{field}.capabilities")
        capabilities.validate(proc["capabilities"])
    _expect(proc.get("noNewPrivileges", False), bool, f"{field}.noNewPrivileges")
    if "oomScoreAdj" in proc:
        _expect(proc["oomScoreAdj"], int, f"{field}.oomScoreAdj")
        if not -1000 <= proc["oomScoreAdj"] <= 1000:
            raise _fail(f"{field}.oomScoreAdj", "must be between -1000 and 1000")
    if "consoleSize" in proc:
        _expect(proc["consoleSize"], dict, f"{field}.consoleSize")


def validate_process(proc: Any) -> None:
    """A process.json given to exec."""
    _validate_process(proc, "process")


def _validate_mounts(mounts: Any) -> None:
    _expect(mounts, list, "mounts")
    for i, m in enumerate(mounts):
        _expect(m, dict, f"mounts[{i}]")
        _expect(m.get("destination"), str, f"mounts[{i}].destination")
        if not m["destination"]:
            raise _fail(f"mounts[{i}].destination", "must not be empty")
        for key in ("type", "source"):
            if key in m:
                _expect(m[key], str, f"mounts[{i}].{key}")
        _strings(m.get("options", []), f"mounts[{i}].options")


def _validate_hooks(hooks: Any) -> None:
    _expect(hooks, dict, "hooks")
    for kind, entries in hooks.items():
        if kind not in HOOK_KINDS:
            raise _fail(f"hooks.{kind}", "unknown hook kind")
        _expect(entries, list, f"hooks.{kind}")
        for i, hook in enumerate(entries):
            _expect(hook, dict, f"hooks.{kind}[{i}]")
            _expect(hook.get("path"), str, f"hooks.{kind}[{i}].path")
            if not hook["path"].startswith("/"):
                raise _fail(f"hooks.{kind}[{i}].path", "must be an absolute path")
            _strings(hook.get("args", []), f"hooks.{kind}[{i}].args")
            _strings(hook.get("env", []), f"hooks.{kind}[{i}].env")
            if "timeout" in hook:
                _expect(hook["timeout"], int, f"hooks.{kind}[{i}].timeout")
                if hook["timeout"] <= 0:
                    raise _fail(f"hooks.{kind}[{i}].timeout", "must be greater than zero")


def _validate_linux(linux: dict) -> None:
    seen = set()
    for i, ns in enumerate(linux.get("namespaces", [])):
        _expect(ns, dict, f"linux.namespaces[{i}]")
        if ns.get("type") not in NAMESPACE_TYPES:
            raise _fail(f"linux.namespaces[{i}].type", f"unknown namespace {ns.get('type')!r}")
        if ns["type"] in seen:
            raise _fail(f"linux.namespaces[{i}].type", f"duplicate namespace {ns['type']!r}")
        seen.add(ns["type"])
        if ns.get("path"):
            _expect(ns["path"], str, f"linux.namespaces[{i}].path")
            if not os.path.exists(ns["path"]):
                raise _fail(f"linux.namespaces[{i}].path", f"{ns['path']} does not exist")
    for key in ("uidMappings", "gidMappings"):
        for i, m in enumerate(linux.get(key, [])):
            _expect(m, dict, f"linux.{key}[{i}]")
            for field in ("containerID", "hostID", "size"):
                _expect(m.get(field), int, f"linux.{key}[{i}].{field}")
    for i, dev in enumerate(linux.get("devices", [])):
        _expect(dev, dict, f"linux.devices[{i}]")
        _expect(dev.get("path"), str, f"linux.devices[{i}].path")
        if dev.get("type") not in ("c", "b", "u", "p"):
            raise _fail(f"linux.devices[{i}].type", f"unknown device type {dev.get('type')!r}")
        if dev["type"] != "p":
            for field in ("major", "minor"):
                _expect(dev.get(field), int, f"linux.devices[{i}].{field}")
    prop = linux.get("rootfsPropagation", "")
    if prop not in PROPAGATIONS:
        raise _fail("linux.rootfsPropagation", f"unknown propagation {prop!r}")
    for key in ("maskedPaths", "readonlyPaths"):
        _strings(linux.get(key, []), f"linux.{key}")
    _expect(linux.get("sysctl", {}), dict, "linux.sysctl")
    if "cgroupsPath" in linux:
        _expect(linux["cgroupsPath"], str, "linux.cgroupsPath")
        if ":" in linux["cgroupsPath"]:
            raise _fail("linux.cgroupsPath", "systemd cgroup paths (slice:prefix:name) "
                        "need the systemd driver, which darse-runtime does not have")
    _expect(linux.get("resources", {}), dict, "linux.resources")
    if "seccomp" in linux:
        _expect(linux["seccomp"], dict, "linux.seccomp")
        seccomp.validate(linux["seccomp"])


def new_namespaces(config: dict) -> set[str]:
    return {ns["type"] for ns in config.get("linux", {}).get("namespaces", [])
            if not ns.get("path")}


def default(rootless: bool = False) -> dict[str, Any]:
    """The config `darse-runtime spec` writes: a busybox-friendly, locked-down container."""
    caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    spec: dict[str, Any] = {
        "ociVersion": OCI_VERSION,
        "process": {
            "terminal": True,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    "TERM=xterm"],
            "cwd": "/",
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "darse",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620",
                         "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
        ],
        "linux": {
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
            "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount",
                                                 "cgroup")],
            "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                            "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                            "/proc/sched_debug", "/sys/firmware", "/proc/scsi",
                            "/sys/devices/virtual/powercap"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                              "/proc/sysrq-trigger"],
        },
    }
    if rootless:
        linux = spec["linux"]
        linux["namespaces"] = [ns for ns in linux["namespaces"] if ns["type"] != "network"]
        linux["namespaces"].append({"type": "user"})
        linux["uidMappings"] = [{"containerID": 0, "hostID": os.getuid(), "size": 1}]
        linux["gidMappings"] = [{"containerID": 0, "hostID": os.getgid(), "size": 1}]
        linux.pop("resources")
        spec["mounts"] = [m for m in spec["mounts"] if m["type"] not in ("sysfs", "cgroup")]
        spec["mounts"].append({"destination": "/sys", "type": "none", "source": "/sys",
                               "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]})
    return spec
