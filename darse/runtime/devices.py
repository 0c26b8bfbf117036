"""Device nodes of the host as linux.devices entries and device cgroup rules.

What an engine needs to give a container a host device (docker run --device), all of
the host's (--privileged), or a rule of its own (--device-cgroup-rule); the runtime then
makes the nodes (rootfs.create_devices) and the cgroup enforces the rules.
"""

from __future__ import annotations

import os
import re
import stat

from darse.errors import InvalidArgument

TYPE_CHECKING = False  # typing costs milliseconds at every container start
if TYPE_CHECKING:
    from typing import Any

# Directories of /dev that hold no devices of the host's own (ptys and shm are the
# container's; the others are tools' state), and the console, the container's too.
_SKIP_DIRS = {"pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"}
_RULE = re.compile(r"^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$")


def valid_mode(mode: str) -> bool:
    """r, w and m, each at most once (docker's device permissions)."""
    return bool(mode) and set(mode) <= set("rwm") and len(set(mode)) == len(mode)


def node(path: str) -> dict[str, Any] | None:
    """The linux.devices entry for the node at path (not following a symlink), or None
    when it is no device."""
    st = os.lstat(path)
    kinds = {stat.S_IFCHR: "c", stat.S_IFBLK: "b", stat.S_IFIFO: "p"}
    kind = kinds.get(stat.S_IFMT(st.st_mode))
    if kind is None:
        return None
    return {"path": path, "type": kind, "major": os.major(st.st_rdev),
            "minor": os.minor(st.st_rdev), "fileMode": stat.S_IMODE(st.st_mode),
            "uid": st.st_uid, "gid": st.st_gid}


def _allow(dev: dict[str, Any], access: str) -> dict[str, Any]:
    return {"allow": True, "type": dev["type"], "major": dev["major"],
            "minor": dev["minor"], "access": access}


def from_path(host: str, container: str, access: str
              ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(linux.devices, cgroup rules) for --device HOST:CONTAINER:ACCESS: one node, or
    every node under a directory (a symlink is followed first), as docker does."""
    resolved = os.path.realpath(host) if os.path.islink(host) else host
    why = "not a device node"
    try:
        found = node(resolved)
    except OSError as exc:
        found, why = None, (exc.strerror or str(exc)).lower()
    if found is not None:
        found["path"] = container
        return [found], ([_allow(found, access)] if found["type"] != "p" else [])
    devs: list[dict[str, Any]] = []
    if os.path.isdir(resolved):
        for top, _dirs, files in os.walk(resolved):
            for name in files:
                path = os.path.join(top, name)
                try:
                    child = node(path)
                except OSError:
                    continue
                if child is not None:
                    child["path"] = container + path[len(resolved):]
                    devs.append(child)
    if not devs:
        raise InvalidArgument(f"error gathering device information while adding custom "
                              f"device \"{host}\": {why}")
    return devs, [_allow(d, access) for d in devs if d["type"] != "p"]


def host_devices(root: str = "/dev") -> list[dict[str, Any]]:
    """Every device node under /dev, for a privileged container."""
    out: list[dict[str, Any]] = []
    try:
        entries = list(os.scandir(root))
    except OSError:
        return out
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            if entry.name not in _SKIP_DIRS:
                out += host_devices(entry.path)
            continue
        if entry.name == "console":
            continue
        try:
            dev = node(entry.path)
        except OSError:
            continue  # gone since the listing
        if dev is not None:
            out.append(dev)
    return out


def parse_rule(text: str) -> dict[str, Any]:
    """'c 1:3 rwm' (docker's --device-cgroup-rule) as a linux.resources.devices entry."""
    match = _RULE.match(text)
    if not match:
        raise InvalidArgument(f"invalid device cgroup rule format: '{text}'")
    kind, major, minor, access = match.groups()
    return {"allow": True, "type": kind, "major": -1 if major == "*" else int(major),
            "minor": -1 if minor == "*" else int(minor), "access": access}
