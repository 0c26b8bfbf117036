"""Changes of containers' records and growth of their log files, delivered to asyncio.

What long-lived requests (wait, logs -f, a foreground run) sleep on: an asyncio.Event
each, set from whichever thread wrote the record (the store calls `changed`) or by the
kernel's inotify when a log grows. A waiting client holds no thread, only its event;
issue 10 item 1 was six waits holding the API's six executor threads.

A waiter registers first and reads the state after, so that no change can fall between
its read and its sleep.
"""

from __future__ import annotations

import asyncio
import os
import struct
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from darse import syscalls

_INOTIFY_EVENT = struct.Struct("iIII")
_LOG_MASK = (syscalls.IN_MODIFY | syscalls.IN_CREATE | syscalls.IN_MOVED_TO
             | syscalls.IN_DELETE_SELF)


class StateWatch:
    """Container ids to the events of the requests waiting on them."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._waiters: dict[str, set[asyncio.Event]] = {}

    def changed(self, container_id: str) -> None:
        """The store wrote this container's record: from any thread."""
        if container_id in self._waiters:  # no wake-up of the loop for nobody
            with suppress(RuntimeError):  # the loop is closed: darsed is stopping
                self.loop.call_soon_threadsafe(self._wake, container_id)

    def _wake(self, container_id: str) -> None:
        for event in self._waiters.get(container_id, ()):
            event.set()

    @contextmanager
    def watching(self, container_id: str, event: asyncio.Event | None = None
                 ) -> Iterator[asyncio.Event]:
        event = event or asyncio.Event()
        self._waiters.setdefault(container_id, set()).add(event)
        try:
            yield event
        finally:
            waiters = self._waiters.get(container_id, set())
            waiters.discard(event)
            if not waiters:
                self._waiters.pop(container_id, None)


class LogWatch:
    """Log folders watched through one inotify descriptor for the whole daemon; a folder's
    watch lives while someone follows a log in it. Without inotify (its limits reached)
    `watching` says so and the follower polls."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.fd: int | None = None
        self._by_dir: dict[str, tuple[int, set[asyncio.Event]]] = {}
        self._by_wd: dict[int, str] = {}

    def _ensure_fd(self) -> int:
        if self.fd is None:
            self.fd = syscalls.inotify_init1()
            self.loop.add_reader(self.fd, self._read)
        return self.fd

    def _read(self) -> None:
        try:
            data = os.read(self.fd, 65536)
        except BlockingIOError:
            return
        offset = 0
        while offset + _INOTIFY_EVENT.size <= len(data):
            wd, mask, _, length = _INOTIFY_EVENT.unpack_from(data, offset)
            offset += _INOTIFY_EVENT.size + length
            if mask & syscalls.IN_Q_OVERFLOW:  # events lost: everyone looks again
                for _, events in self._by_dir.values():
                    for event in events:
                        event.set()
                continue
            folder = self._by_wd.get(wd)
            if folder is None:
                continue
            for event in self._by_dir[folder][1]:
                event.set()
            if mask & syscalls.IN_IGNORED:  # the folder is gone (docker rm)
                self._by_wd.pop(wd, None)

    @contextmanager
    def watching(self, path: str, event: asyncio.Event | None = None
                 ) -> Iterator[tuple[asyncio.Event, bool]]:
        """(the event set when the file's folder changes, whether inotify watches it)."""
        event = event or asyncio.Event()
        folder = os.path.dirname(path)
        watched = True
        try:
            entry = self._by_dir.get(folder)
            if entry is None or entry[0] not in self._by_wd:  # new, or its folder remade
                wd = syscalls.inotify_add_watch(self._ensure_fd(), folder, _LOG_MASK)
                self._by_dir[folder] = (wd, entry[1] if entry else set())
                self._by_wd[wd] = folder
            self._by_dir[folder][1].add(event)
        except OSError:
            watched = False
        try:
            yield event, watched
        finally:
            if watched:
                self._unwatch(folder, event)

    def _unwatch(self, folder: str, event: asyncio.Event) -> None:
        wd, events = self._by_dir[folder]
        events.discard(event)
        if events:
            return
        del self._by_dir[folder]
        if self._by_wd.get(wd) == folder:
            del self._by_wd[wd]
            with suppress(OSError):  # removed with its folder meanwhile
                syscalls.inotify_rm_watch(self.fd, wd)
