"""start: release a created container's init (runc's exec.fifo handshake)."""

from __future__ import annotations

import errno
import os

from darse.errors import Conflict
from darse.runtime import hooks, state


def start(root: str, container_id: str) -> None:
    st = state.load(root, container_id)
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
    try:
        os.write(fd, b"0")
    finally:
        os.close(fd)
    os.unlink(fifo)
    hooks.run(st.config, "poststart", st.oci_state(state.RUNNING), fatal=False)
