"""The daemon's event stream (GET /events): a bounded history and live subscribers."""

from __future__ import annotations

import collections
import queue
import threading
import time
from collections.abc import Callable
from typing import Any


class EventBus:
    def __init__(self, keep: int = 1000) -> None:
        self.history: collections.deque[dict[str, Any]] = collections.deque(maxlen=keep)
        self.subscribers: set[queue.Queue] = set()
        self.local: list[Callable[[], None]] = []
        self.lock = threading.Lock()

    def emit(self, kind: str, action: str, actor: str, attributes: dict[str, str],
             source: str = "") -> None:
        ns = time.time_ns()
        event = {"Type": kind, "Action": action,
                 "Actor": {"ID": actor, "Attributes": attributes},
                 "scope": "local", "time": ns // 10**9, "timeNano": ns}
        if kind == "container":  # the pre-1.22 fields docker still sends
            event.update(status=action, id=actor, **({"from": source} if source else {}))
        with self.lock:
            self.history.append(event)
            for q in self.subscribers:
                q.put(event)
        for fn in self.local:
            fn()

    def subscribe(self) -> queue.Queue:
        q: queue.Queue = queue.Queue()
        with self.lock:
            self.subscribers.add(q)
        return q

    def unsubscribe(self, q: queue.Queue) -> None:
        with self.lock:
            self.subscribers.discard(q)

    def since(self, start_ns: int, end_ns: int | None = None) -> list[dict[str, Any]]:
        with self.lock:
            return [e for e in self.history if e["timeNano"] >= start_ns
                    and (end_ns is None or e["timeNano"] <= end_ns)]

    def subscribe_local(self, fn: Callable[[], None]) -> None:
        self.local.append(fn)
