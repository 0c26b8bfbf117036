"""How start() learns that a container's init has run its execve, without polling.

create() makes a pipe whose write end (close-on-exec) only the init holds: its end of
file is the init's execve (or death). The read end is kept here, by container id, for a
start() in the same process (the supervisor); another process (darse-runtime start)
finds none and watches /proc instead.
"""

from __future__ import annotations

import os

_watches: dict[str, int] = {}


def keep(container_id: str, fd: int) -> None:
    stale = _watches.pop(container_id, None)  # a container of that id deleted unstarted
    if stale is not None:
        os.close(stale)
    _watches[container_id] = fd


def take(container_id: str) -> int | None:
    """The read end, now the caller's to close; None when this process has none."""
    return _watches.pop(container_id, None)


def drop(container_id: str) -> None:
    fd = _watches.pop(container_id, None)
    if fd is not None:
        os.close(fd)
