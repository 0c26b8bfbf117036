"""A container's mounts from Docker's four ways to ask for them — HostConfig.Binds
(`-v`), HostConfig.Mounts (`--mount`), HostConfig.Tmpfs (`--tmpfs`), Config.Volumes
(`-v /path`, VOLUME) — validated with Docker's messages, as Docker's MountPoints."""

from __future__ import annotations

import os
from typing import Any

from darse.errors import InvalidArgument

PROPAGATIONS = ("private", "rprivate", "shared", "rshared", "slave", "rslave")
_RW = ("rw", "ro")
_LABEL = ("z", "Z")
_COPY = ("nocopy",)
_CONSISTENCY = ("consistent", "cached", "delegated")


def _invalid_spec(raw: str) -> InvalidArgument:
    return InvalidArgument(f"invalid volume specification: '{raw}'")


def parse_mode(mode: str) -> dict[str, Any]:
    """'ro,z,rshared' -> what it says; Docker's 'invalid mode' otherwise."""
    out: dict[str, Any] = {"RW": True, "Propagation": "", "NoCopy": False}
    seen: dict[str, str] = {}
    for opt in mode.split(","):
        for name, group in (("rw", _RW), ("label", _LABEL), ("copy", _COPY),
                            ("propagation", PROPAGATIONS), ("consistency", _CONSISTENCY)):
            if opt in group:
                if name in seen:
                    raise InvalidArgument(f"invalid mode: {mode}")
                seen[name] = opt
                break
        else:
            raise InvalidArgument(f"invalid mode: {mode}")
    out["RW"] = seen.get("rw", "rw") == "rw"
    out["Propagation"] = seen.get("propagation", "")
    out["NoCopy"] = "copy" in seen
    return out


def _absolute(path: str, kind: str, raw: str | None = None) -> str:
    if not path.startswith("/"):
        detail = (f"invalid mount config for type \"{kind}\": invalid mount path: '{path}' "
                  "mount path must be absolute")
        raise InvalidArgument(f"invalid volume specification: '{raw}': {detail}" if raw
                              else detail)
    return os.path.normpath(path)


def parse_bind(raw: str) -> dict[str, Any]:
    """One -v string: src:dst[:mode] (a bind if src is a path, else a named volume)."""
    parts = raw.split(":")
    if len(parts) == 1:
        return {"Type": "volume", "Name": "", "Target": _absolute(parts[0], "volume", raw),
                "RW": True, "Mode": "", "Propagation": "", "NoCopy": False, "FromBinds": True}
    if len(parts) == 2:
        src, dst, mode = parts[0], parts[1], ""
        if dst in _RW or dst in _LABEL or dst in PROPAGATIONS:
            raise _invalid_spec(raw)
    elif len(parts) == 3:
        src, dst, mode = parts
    else:
        raise _invalid_spec(raw)
    if not src or not dst:
        raise _invalid_spec(raw)
    opts = parse_mode(mode) if mode else {"RW": True, "Propagation": "", "NoCopy": False}
    kind = "bind" if src.startswith("/") else "volume"
    target = _absolute(dst, kind, raw)
    if kind == "bind":
        if opts["NoCopy"]:
            raise InvalidArgument(f"invalid mode: {mode}")
        return {"Type": "bind", "Source": os.path.normpath(src), "Target": target,
                "RW": opts["RW"], "Mode": mode, "Propagation": opts["Propagation"] or
                "rprivate", "CreateSource": True}
    from darse.volume.store import validate_name

    validate_name(src)
    return {"Type": "volume", "Name": src, "Target": target, "RW": opts["RW"],
            "Mode": mode or "z", "Propagation": "", "NoCopy": opts["NoCopy"]}


def from_mount(m: dict[str, Any]) -> dict[str, Any]:
    """One HostConfig.Mounts entry (--mount), checked as dockerd checks it."""
    kind = m.get("Type") or ""
    if kind not in ("bind", "volume", "tmpfs"):
        raise InvalidArgument(f"invalid mount config for type \"{kind}\": mount type unknown"
                              if kind else "invalid mount config: type is required")
    target = m.get("Target") or ""
    if not target:
        raise InvalidArgument(f"invalid mount config for type \"{kind}\": field Target must "
                              "not be empty")
    target = _absolute(target, kind)
    source = m.get("Source") or ""
    ro = bool(m.get("ReadOnly"))
    if kind == "bind":
        if not source:
            raise InvalidArgument("invalid mount config for type \"bind\": field Source must "
                                  "not be empty")
        source = os.path.normpath(source)
        if not source.startswith("/"):
            raise InvalidArgument(f"invalid mount config for type \"bind\": invalid mount "
                                  f"path: '{source}' mount path must be absolute")
        if not os.path.exists(source):
            raise InvalidArgument(f"invalid mount config for type \"bind\": bind source path "
                                  f"does not exist: {source}")
        prop = (m.get("BindOptions") or {}).get("Propagation") or "rprivate"
        if prop not in PROPAGATIONS:
            raise InvalidArgument(f"invalid mount config for type \"bind\": invalid "
                                  f"propagation mode: {prop}")
        return {"Type": "bind", "Source": source, "Target": target, "RW": not ro, "Mode": "",
                "Propagation": prop}
    if kind == "volume":
        if source:
            from darse.volume.store import validate_name

            validate_name(source)
        opts = m.get("VolumeOptions") or {}
        driver = opts.get("DriverConfig") or {}
        return {"Type": "volume", "Name": source, "Target": target, "RW": not ro,
                "Mode": "z", "Propagation": "", "NoCopy": bool(opts.get("NoCopy")),
                "Labels": opts.get("Labels") or {}, "Driver": driver.get("Name") or "local",
                "DriverOptions": driver.get("Options") or {}}
    if source:
        raise InvalidArgument("invalid mount config for type \"tmpfs\": field Source must not "
                              "be specified")
    tmpfs = m.get("TmpfsOptions") or {}
    options = []
    if tmpfs.get("SizeBytes"):
        options.append(f"size={tmpfs['SizeBytes']}")
    if tmpfs.get("Mode"):
        options.append(f"mode={tmpfs['Mode']:o}" if isinstance(tmpfs["Mode"], int)
                       else f"mode={tmpfs['Mode']}")
    return {"Type": "tmpfs", "Source": "", "Target": target, "RW": not ro, "Mode": "",
            "Propagation": "", "TmpfsOptions": options}


def from_tmpfs(path: str, opts: str) -> dict[str, Any]:
    """--tmpfs /path[:opts] (HostConfig.Tmpfs)."""
    target = _absolute(path, "tmpfs")
    options = [o for o in (opts or "").split(",") if o]
    ro = "ro" in options
    return {"Type": "tmpfs", "Source": "", "Target": target, "RW": not ro, "Mode": "",
            "Propagation": "", "TmpfsOptions": [o for o in options if o not in ("ro", "rw")]}


def collect(config: dict[str, Any], host_config: dict[str, Any],
            image_volumes: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Every mount of a container, Docker's precedence: --mount and -v and --tmpfs win
    over VOLUME; two asks for one path are an error."""
    mounts: list[dict[str, Any]] = []
    for raw in host_config.get("Binds") or []:
        mounts.append(parse_bind(raw))
    for m in host_config.get("Mounts") or []:
        mounts.append(from_mount(m))
    for path, opts in (host_config.get("Tmpfs") or {}).items():
        mounts.append(from_tmpfs(path, opts))
    seen: set[str] = set()
    for m in mounts:
        if m["Target"] in seen:
            raise InvalidArgument(f"Duplicate mount point: {m['Target']}")
        seen.add(m["Target"])
    for path in list(config.get("Volumes") or {}) + list(image_volumes or {}):
        target = _absolute(path, "volume")
        if target not in seen:
            seen.add(target)
            mounts.append({"Type": "volume", "Name": "", "Target": target, "RW": True,
                           "Mode": "", "Propagation": "", "NoCopy": False, "Anonymous": True})
    return mounts


def mount_point(m: dict[str, Any], volume_path: str | None = None) -> dict[str, Any]:
    """The inspect view (Docker's MountPoint), in its field order (Type, Name, Source,
    Destination, Driver, Mode, RW, Propagation) so that {{.Mounts}} prints as docker's."""
    out = {"Type": m["Type"]}
    if m["Type"] == "volume":
        out.update(Name=m["Name"], Source=volume_path or "", Destination=m["Target"],
                   Driver=m.get("Driver") or "local", Mode=m.get("Mode", ""), RW=m["RW"],
                   Propagation=m.get("Propagation", ""))
    else:
        out.update(Source=m.get("Source", ""), Destination=m["Target"], Mode=m.get("Mode", ""),
                   RW=m["RW"], Propagation=m.get("Propagation", ""))
    return out


def oci_mount(m: dict[str, Any], source: str) -> dict[str, Any]:
    if m["Type"] == "tmpfs":
        return {"destination": m["Target"], "type": "tmpfs", "source": "tmpfs",
                "options": ["nosuid", "nodev", "noexec", *(m.get("TmpfsOptions") or []),
                            "ro" if not m["RW"] else "rw"]}
    options = ["rbind", m.get("Propagation") or "rprivate"]
    if not m["RW"]:
        options.append("ro")
    return {"destination": m["Target"], "type": "bind", "source": source, "options": options}
