"""delete: remove a stopped container (or any, with force) and all it left on the host."""

from __future__ import annotations

import os
import signal
import time

from darse.errors import Conflict
from darse.runtime import cgroups, execwatch, hooks, rootfs, state


def delete(root: str, container_id: str, force: bool = False) -> None:
    st = state.load(root, container_id)
    execwatch.drop(container_id)  # created here, never started
    current = state.status(root, st)
    # The spec (runtime.md, delete) refuses any container that is not stopped; runc
    # lets a created one go, darse follows the spec: --force is the way.
    if current != state.STOPPED and not force:
        raise Conflict(f"cannot delete container {container_id} that is not stopped: {current}")
    if current != state.STOPPED:
        if current == state.PAUSED:
            cgroups.freeze(st.cgroup_paths, False)
        try:
            os.kill(st.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    # Without a pid namespace the init's death does not end its children: the cgroup
    # knows them all (none left is the usual end, with nothing to freeze and signal).
    if cgroups.pids(st.cgroup_paths):
        cgroups.signal_all(st.cgroup_paths)
    _wait_gone(st)
    cgroups.destroy(st.cgroup_paths, st.cgroup_parents)
    if not own_mount_namespace(st.config):
        rootfs.unmount_under(st.rootfs)
    state.remove(root, container_id)
    hooks.run(st.config, "poststop", st.oci_state(state.STOPPED), fatal=False)


def _wait_gone(st: state.ContainerState, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not state.is_alive(st) and not cgroups.pids(st.cgroup_paths):
            return
        try:
            os.waitpid(st.pid, os.WNOHANG)  # ours to reap when we are its (sub)reaper
        except ChildProcessError:
            pass
        time.sleep(0.002)


def own_mount_namespace(config: dict) -> bool:
    return any(ns["type"] == "mount" for ns in (config.get("linux") or {}).get("namespaces")
               or [])
