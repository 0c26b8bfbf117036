"""A container's record under the runtime's root directory, and its status.

ROOT/ID/state.json holds what later commands need (pid, its start time so a reused
pid is not mistaken for the container, cgroup paths, the config); ROOT/ID/exec.fifo
exists from create until start, exactly as runc keeps it.
"""

from __future__ import annotations

import datetime
import json
import os
import re

from darse.errors import AlreadyExists, InvalidArgument, NotFound
from darse.runtime.spec import OCI_VERSION

TYPE_CHECKING = False  # typing costs milliseconds at every container start
if TYPE_CHECKING:
    from typing import Any

DEFAULT_ROOT = "/run/darse-runtime"
_ID = re.compile(r"^[\w+\-.]+$")

CREATING, CREATED, RUNNING, STOPPED, PAUSED = "creating", "created", "running", "stopped", "paused"


class ContainerState:
    """What darse-runtime remembers of a container (a plain class: dataclasses cost a
    few milliseconds of import on every command)."""

    FIELDS = ("id", "bundle", "rootfs", "pid", "pid_start", "created", "owner", "config",
              "cgroup_paths", "cgroup_parents")

    def __init__(self, id: str, bundle: str, rootfs: str, pid: int = 0, pid_start: int = 0,
                 created: str = "", owner: str = "", config: dict[str, Any] | None = None,
                 cgroup_paths: dict[str, str] | None = None,
                 cgroup_parents: list[str] | None = None) -> None:
        self.id, self.bundle, self.rootfs = id, bundle, rootfs
        self.pid, self.pid_start, self.created, self.owner = pid, pid_start, created, owner
        self.config = config or {}
        self.cgroup_paths = cgroup_paths or {}
        self.cgroup_parents = cgroup_parents or []

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.FIELDS}

    def annotations(self) -> dict[str, str]:
        return self.config.get("annotations") or {}

    def oci_state(self, status: str) -> dict[str, Any]:
        """The state of the OCI spec (runtime.md), as hooks and `state` show it."""
        out: dict[str, Any] = {"ociVersion": OCI_VERSION, "id": self.id, "status": status,
                               "pid": self.pid if status != STOPPED else 0,
                               "bundle": self.bundle}
        if self.annotations():
            out["annotations"] = self.annotations()
        return out


def check_id(container_id: str) -> None:
    if not _ID.match(container_id) or container_id in (".", ".."):
        raise InvalidArgument(f"invalid container id format: {container_id}")


def container_dir(root: str, container_id: str) -> str:
    check_id(container_id)
    return os.path.join(root, container_id)


def fifo_path(root: str, container_id: str) -> str:
    return os.path.join(container_dir(root, container_id), "exec.fifo")


def reserve(root: str, container_id: str) -> str:
    """Make the container's directory; fail if the id is taken."""
    path = container_dir(root, container_id)
    # Root's only, as runc's: state.json carries the container's environment.
    os.makedirs(root, mode=0o700, exist_ok=True)
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        raise AlreadyExists(f"container with id exists: {container_id}") from None
    return path


def save(root: str, st: ContainerState) -> None:
    path = os.path.join(container_dir(root, st.id), "state.json")
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "w") as f:
        # dumps, not dump: json.dump never uses the C encoder (3-7 ms for a spec with
        # Docker's seccomp profile, on every create)
        f.write(json.dumps(st.to_dict()))
    os.rename(tmp, path)


def load(root: str, container_id: str) -> ContainerState:
    path = os.path.join(container_dir(root, container_id), "state.json")
    try:
        with open(path) as f:
            data = json.load(f)
    except (FileNotFoundError, NotADirectoryError):
        raise NotFound(f'container "{container_id}" does not exist') from None
    return ContainerState(**data)


def remove(root: str, container_id: str) -> None:
    import shutil

    shutil.rmtree(container_dir(root, container_id), ignore_errors=True)


def list_ids(root: str) -> list[str]:
    try:
        return sorted(n for n in os.listdir(root)
                      if os.path.exists(os.path.join(root, n, "state.json")))
    except FileNotFoundError:
        return []


def now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat().replace("+00:00", "Z")


def proc_stat(pid: int) -> tuple[str, int] | None:
    """(state letter, start time in clock ticks) of a process, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    rest = raw[raw.rindex(b")") + 2:].split()
    return rest[0].decode(), int(rest[19])


def is_alive(st: ContainerState) -> bool:
    if st.pid <= 0:
        return False
    stat = proc_stat(st.pid)
    return stat is not None and stat[1] == st.pid_start and stat[0] not in ("Z", "X")


def status(root: str, st: ContainerState) -> str:
    from darse.runtime import cgroups  # the freezer is only read for live containers

    if not is_alive(st):
        return STOPPED
    if os.path.exists(fifo_path(root, st.id)):
        return CREATED
    if cgroups.is_frozen(st.cgroup_paths):
        return PAUSED
    return RUNNING


def runc_state(root: str, st: ContainerState) -> dict[str, Any]:
    """What `state` prints: runc's fields, so runc's callers can read it."""
    current = status(root, st)
    out = st.oci_state(current)
    out.update({"rootfs": st.rootfs, "created": st.created, "owner": st.owner})
    return out
