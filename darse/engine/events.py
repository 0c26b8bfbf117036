"""The daemon's event stream (GET /events): a bounded history and live subscribers.

Subscribers are asyncio queues fed from whichever thread emits: a client of /events
holds no thread, and sleeps until an event comes."""

from __future__ import annotations

import asyncio
import collections
import threading
import time
from contextlib import suppress
from typing import Any

MAX_BACKLOG = 10_000  # events a subscriber may leave unread before it is dropped


class Subscription:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()

    def _put(self, event: dict[str, Any] | None) -> None:
        if self.queue.qsize() < MAX_BACKLOG or event is None:
            self.queue.put_nowait(event)
        else:  # a client that does not read: ended rather than let grow without bound
            self.queue.put_nowait(None)

    async def get(self) -> dict[str, Any] | None:
        """The next event; None when the subscription was dropped."""
        return await self.queue.get()


class EventBus:
    def __init__(self, keep: int = 1000) -> None:
        self.history: collections.deque[dict[str, Any]] = collections.deque(maxlen=keep)
        self.subscribers: set[Subscription] = set()
        self.lock = threading.Lock()

    def emit(self, kind: str, action: str, actor: str, attributes: dict[str, str],
             source: str = "") -> None:
        ns = time.time_ns()
        event: dict[str, Any] = {}
        if kind == "container":  # the pre-1.22 fields docker still sends, first
            event.update(status=action, id=actor, **({"from": source} if source else {}))
        event.update({"Type": kind, "Action": action,
                      "Actor": {"ID": actor, "Attributes": attributes},
                      "scope": "local", "time": ns // 10**9, "timeNano": ns})
        with self.lock:
            self.history.append(event)
            subscribers = list(self.subscribers)
        for sub in subscribers:
            with suppress(RuntimeError):  # its loop is closed: darsed is stopping
                sub.loop.call_soon_threadsafe(sub._put, event)

    def subscribe(self) -> Subscription:
        """From the event loop: the events emitted from now on."""
        sub = Subscription(asyncio.get_running_loop())
        with self.lock:
            self.subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self.lock:
            self.subscribers.discard(sub)

    def since(self, start_ns: int, end_ns: int | None = None) -> list[dict[str, Any]]:
        with self.lock:
            return [e for e in self.history if e["timeNano"] >= start_ns
                    and (end_ns is None or e["timeNano"] <= end_ns)]
