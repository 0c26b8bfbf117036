"""start: release a created container's init (runc's exec.fifo handshake)."""

from __future__ import annotations

import errno
import os
import select
import time

from darse.errors import Conflict
from darse.runtime import execwatch, hooks, state


def start(root: str, container_id: str, st: state.ContainerState | None = None) -> None:
    """st: the container's state as create() returned it, when the caller kept it (the
    supervisor), not read again from its file."""
    st = st or state.load(root, container_id)
    current = state.status(root, st)
    if current == state.STOPPED:
        raise Conflict("cannot start a container that has stopped")
    if current != state.CREATED:
        raise Conflict("cannot start an already running container")
    fifo = state.fifo_path(root, container_id)
    try:
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno in (errno.ENXIO, errno.ENOENT):
            raise Conflict("cannot start a container that has stopped") from None
        raise
    watch = execwatch.take(container_id)
    before = _image(st.pid) if watch is None else None
    try:
        os.write(fd, b"0")
    finally:
        os.close(fd)
    os.unlink(fifo)
    # The spec: poststart hooks run after the user's process has started, so the init's
    # startContainer hooks and its execve are waited for: the end of create's pipe when
    # this process made it, else what /proc says the init runs.
    if watch is not None:
        try:
            # poll, not select: a supervisor of 1000 containers holds fds past 1024
            waiter = select.poll()
            waiter.register(watch, select.POLLIN)
            waiter.poll(EXEC_WAIT * 1000)
        finally:
            os.close(watch)
    else:
        deadline = time.monotonic() + EXEC_WAIT
        while (_image(st.pid) == before and state.is_alive(st)
               and time.monotonic() < deadline):
            time.sleep(0.002)
    hooks.run(st.config, "poststart", st.oci_state(state.RUNNING), fatal=False)


EXEC_WAIT = 30.0  # seconds; a startContainer hook slower than this is not waited for


def _image(pid: int) -> tuple[int, int, bytes] | None:
    """What the process runs: its executable and arguments (both change at execve)."""
    try:
        exe = os.stat(f"/proc/{pid}/exe")
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return exe.st_dev, exe.st_ino, f.read()
    except OSError:
        return None
