"""Responses that a worker thread produces (pull/push/build progress, export and save
tars), streamed from asyncio: the handler awaits an asyncio queue, never an executor
thread, and a client that leaves stops the worker at its next write (its `finally`s
run: an exported container's rootfs is unmounted, its files closed)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

from aiohttp import web

from darse.errors import Cancelled

_DONE = object()


class ThreadStream:
    """Items from a worker thread to the loop, at most `limit` of them in flight."""

    def __init__(self, loop: asyncio.AbstractEventLoop, limit: int = 64) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self.limit = limit
        self.space = threading.Semaphore(limit)
        self.gone = threading.Event()

    def put(self, item: Any) -> None:
        """From the worker: blocks while the client is slow; Cancelled once it left."""
        self.space.acquire()
        if self.gone.is_set():
            self.space.release()  # the next waiter learns it too
            raise Cancelled("the client went away")
        try:
            self.loop.call_soon_threadsafe(self.queue.put_nowait, item)
        except RuntimeError:  # the loop is closed: darsed is stopping
            raise Cancelled("darsed is stopping") from None

    async def get(self) -> Any:
        item = await self.queue.get()
        self.space.release()
        return item

    def abandon(self) -> None:
        """The client went: wake a worker blocked in put() so that it raises."""
        self.gone.set()
        self.space.release()


async def from_thread(request: web.Request, resp: web.StreamResponse,
                      work: Callable[[Callable[[Any], None]], Any],
                      encode: Callable[[Any], bytes],
                      on_error: Callable[[BaseException], Any] | None = None) -> None:
    """Run work(put) in a thread of its own; each item put goes out as encode(item).
    An error of the worker becomes on_error(exc) as a last item, if given."""
    stream = ThreadStream(asyncio.get_running_loop())

    def run() -> None:
        try:
            work(stream.put)
        except Cancelled:
            pass
        except Exception as exc:  # noqa: BLE001 - reported to the client, not lost
            if on_error is None:
                import traceback

                traceback.print_exc()
            else:
                try:
                    stream.put(on_error(exc))
                except Cancelled:
                    pass
        finally:
            try:
                stream.loop.call_soon_threadsafe(stream.queue.put_nowait, _DONE)
            except RuntimeError:
                pass

    threading.Thread(target=run, daemon=True, name="darsed-stream").start()
    try:
        while (item := await stream.get()) is not _DONE:
            await resp.write(encode(item))
    finally:
        stream.abandon()
