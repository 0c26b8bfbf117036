"""linux.resources and linux.cgroupsPath, on cgroup v1, v2, or the hybrid of both.

A container's cgroups are recorded as a map {controller: directory}: on v1 one entry per
mounted hierarchy (plus "unified" for the v2 tree of a hybrid host, which holds no
controllers but tracks processes); on a v2-only host one entry, "". Everything else in
this package takes that map, so callers never care which version the host runs.
"""

from __future__ import annotations

import errno
import os
import signal
import time
from functools import lru_cache

from darse.errors import SystemFailure
from darse.runtime.cgroups import v1, v2

UNIFIED = "unified"


@lru_cache(maxsize=1)
def hierarchies() -> dict[str, str]:
    """{controller: mount point} for v1 hierarchies, or {"": mount point} on a v2-only host."""
    v1_mounts: dict[str, str] = {}
    v2_mount = None
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            fstype, mountpoint = fields[sep + 1], fields[4]
            if fstype == "cgroup2" and v2_mount is None:
                v2_mount = mountpoint
            elif fstype == "cgroup":
                for opt in fields[sep + 3].split(","):
                    if opt in v1.CONTROLLERS or opt.startswith("name="):
                        v1_mounts.setdefault(opt, mountpoint)
    if not v1_mounts:
        if v2_mount is None:
            raise SystemFailure("cgroups: no cgroup filesystem is mounted")
        return {"": v2_mount}
    if v2_mount is not None:
        v1_mounts[UNIFIED] = v2_mount
    return v1_mounts


def is_v2() -> bool:
    return "" in hierarchies()


def _own_cgroup(controller: str) -> str:
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, names, path = line.rstrip("\n").split(":", 2)
            if (controller in ("", UNIFIED) and names == "") or controller in names.split(","):
                return path
    return "/"


def resolve(cgroups_path: str, container_id: str) -> dict[str, str]:
    """Directories for a cgroupsPath: absolute from each hierarchy's root, relative from
    the runtime's own cgroup, darse/<id> when the config gives none."""
    path = cgroups_path or f"/darse/{container_id}"
    out = {}
    for controller, mountpoint in hierarchies().items():
        rel = path if path.startswith("/") else os.path.join(_own_cgroup(controller), path)
        out[controller] = os.path.normpath(mountpoint + "/" + rel.lstrip("/"))
    return out


def missing_parents(paths: dict[str, str]) -> list[str]:
    """The ancestors create() will have to make: destroy() removes them again."""
    out: list[str] = []
    for path in paths.values():
        parent = os.path.dirname(path)
        while not os.path.isdir(parent) and parent not in out:
            out.append(parent)
            parent = os.path.dirname(parent)
    return out


def create(paths: dict[str, str], resources: dict) -> None:
    """Make the directories and apply the limits; on failure remove what was made."""
    parents = missing_parents(paths)
    try:
        if "" in paths:
            v2.create(paths[""], resources)
        else:
            v1.create(paths, resources)
    except BaseException:
        destroy(paths, parents)
        raise


def update(paths: dict[str, str], resources: dict) -> None:
    """New limits on a live container's cgroups (runc update); its device rules stay."""
    if "" in paths:
        v2.set_limits(paths[""], resources)
    else:
        v1.set_limits(paths, resources)


def add_process(paths: dict[str, str], pid: int) -> None:
    for path in paths.values():
        with open(os.path.join(path, "cgroup.procs"), "w") as f:
            f.write(str(pid))


def pids(paths: dict[str, str]) -> list[int]:
    """Every process in the container's cgroup and below it."""
    if not paths:
        return []
    path = paths.get("") or paths.get("pids") or paths.get("memory") or next(iter(paths.values()))
    found: list[int] = []
    for dirpath, _, _ in os.walk(path):
        try:
            with open(os.path.join(dirpath, "cgroup.procs")) as f:
                found.extend(int(x) for x in f.read().split())
        except FileNotFoundError:
            continue
    return found


def is_frozen(paths: dict[str, str]) -> bool:
    if "" in paths:
        return v2.is_frozen(paths[""])
    if "freezer" in paths:
        return v1.is_frozen(paths["freezer"])
    return False


def freeze(paths: dict[str, str], frozen: bool) -> None:
    if "" in paths:
        v2.freeze(paths[""], frozen)
    elif "freezer" in paths:
        v1.freeze(paths["freezer"], frozen)
    else:
        raise SystemFailure("cgroups: no freezer controller on this host")


def signal_all(paths: dict[str, str], sig: int = signal.SIGKILL) -> None:
    """Signal every process of the container, frozen first so none can fork away."""
    paths = {k: v for k, v in paths.items() if os.path.isdir(v)}
    can_freeze = "" in paths or "freezer" in paths
    if can_freeze:
        try:
            freeze(paths, True)
        except (OSError, SystemFailure):
            can_freeze = False
    try:
        for pid in pids(paths):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
    finally:
        if can_freeze:
            freeze(paths, False)


def destroy(paths: dict[str, str], parents: list[str] = ()) -> None:
    """Remove the container's directories (deepest first; a busy one is retried briefly),
    then the parents that create() made, unless another container still uses them."""
    for path in paths.values():
        try:
            os.rmdir(path)  # the usual case: no child group, no process left
            continue
        except FileNotFoundError:
            continue
        except OSError:
            pass  # its children first, a busy one retried: the walk below
        if not os.path.isdir(path):
            continue
        subdirs = [d for d, _, _ in os.walk(path, topdown=False)]
        for d in subdirs:
            for attempt in range(50):
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError as exc:
                    if exc.errno != errno.EBUSY or attempt == 49:
                        raise SystemFailure(f"cgroups: cannot remove {d}: {exc.strerror}") from None
                    time.sleep(0.01)
    # darse/ is darse's own subtree: it goes with its last container, whoever made it.
    owned = {os.path.dirname(p) for p in paths.values()
             if os.path.basename(os.path.dirname(p)) == "darse"}
    for parent in sorted(set(parents) | owned, key=len, reverse=True):
        try:
            os.rmdir(parent)
        except OSError:
            pass  # not empty: someone else's container lives there now
