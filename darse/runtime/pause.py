"""pause and resume: the freezer."""

from __future__ import annotations

from darse.errors import Conflict
from darse.runtime import cgroups, state


def pause(root: str, container_id: str) -> None:
    st = state.load(root, container_id)
    current = state.status(root, st)
    if current not in (state.RUNNING, state.CREATED):
        raise Conflict(f"container not running or created: {current}")
    cgroups.freeze(st.cgroup_paths, True)


def resume(root: str, container_id: str) -> None:
    st = state.load(root, container_id)
    if state.status(root, st) != state.PAUSED:
        raise Conflict("container not paused")
    cgroups.freeze(st.cgroup_paths, False)
