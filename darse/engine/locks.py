"""One lock per container, so that what one container's start, stop or removal waits on
(its files, the runtime, the supervisor) holds up that container alone, never the daemon."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class ContainerLocks:
    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, threading.RLock] = {}

    @contextmanager
    def hold(self, container_id: str) -> Iterator[None]:
        # Re-entrant: an --rm container's failed start removes it under the same lock.
        with self._guard:
            lock = self._locks.setdefault(container_id, threading.RLock())
        with lock:
            yield

    def forget(self, container_id: str) -> None:
        with self._guard:
            self._locks.pop(container_id, None)
