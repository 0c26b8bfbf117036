"""Hijacked connections (attach, exec start): the HTTP connection upgraded to a raw
bidirectional stream, as Docker does with `Upgrade: tcp` and 101 UPGRADED.

Output is multiplexed unless the process has a tty: each frame is an 8-byte header
(stream id: 1 stdout, 2 stderr; three zero bytes; big-endian uint32 length, the
`>BxxxL` docker-py documents) followed by the data.
"""

from __future__ import annotations

import asyncio
import select
import socket
import struct

from aiohttp import web

MULTIPLEXED = "application/vnd.docker.multiplexed-stream"
RAW = "application/vnd.docker.raw-stream"
_DOCKER_HEADER = struct.Struct(">BxxxL")


def docker_frame(stream: int, data: bytes) -> bytes:
    return _DOCKER_HEADER.pack(stream, len(data)) + data


class RawParser:
    """What aiohttp feeds the bytes that follow an upgrade: into an asyncio queue."""

    def __init__(self, queue: asyncio.Queue) -> None:
        self.queue = queue

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self.queue.put_nowait(bytes(data))
        return False, b""

    def feed_eof(self) -> None:
        self.queue.put_nowait(b"")


class UpgradedResponse(web.StreamResponse):
    async def write_eof(self, data: bytes = b"") -> None:  # the stream ends by closing
        pass


class Hijacked:
    """A hijacked connection: read() the client's bytes, send() ours."""

    def __init__(self, request: web.Request, response: web.StreamResponse,
                 queue: asyncio.Queue, upgraded: bool) -> None:
        self.request, self.response, self.queue = request, response, queue
        self.upgraded = upgraded
        self.transport = request.transport

    async def read(self) -> bytes:
        """Client bytes; b'' once the client closed its side."""
        return await self.queue.get()

    async def send(self, data: bytes) -> None:
        if not self.upgraded:
            await self.response.write(data)  # a plain streamed (chunked) response
        elif self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def close(self) -> None:
        if self.upgraded and self.transport is not None:
            self.transport.close()


def _client_eof(transport: asyncio.Transport | None, parser: RawParser) -> None:
    """The client's end of input; if it closed the whole socket rather than its write
    side (killed, not `docker exec` at the end of its stdin), the connection is dropped
    now: nothing else would notice before darsed next writes to it."""
    parser.feed_eof()
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is None or sock.family != socket.AF_UNIX:
        return  # over TCP a FIN says nothing more: the next write finds out
    poller = select.poll()
    poller.register(sock.fileno(), select.POLLIN)
    if any(events & select.POLLHUP for _, events in poller.poll(0)):
        transport.abort()


async def _pump_body(request: web.Request, queue: asyncio.Queue) -> None:
    while chunk := await request.content.readany():
        queue.put_nowait(chunk)
    queue.put_nowait(b"")


async def hijack(request: web.Request, tty: bool) -> tuple[web.StreamResponse, Hijacked]:
    """Answer 101 and take the socket; a client that did not ask to upgrade (curl) gets
    a streamed 200 and its request body as input."""
    upgrade = request.headers.get("Upgrade", "").lower() == "tcp"
    content_type = RAW if tty else MULTIPLEXED
    queue: asyncio.Queue = asyncio.Queue()
    if upgrade:
        resp: web.StreamResponse = UpgradedResponse(
            status=101, reason="UPGRADED",
            headers={"Content-Type": content_type, "Connection": "Upgrade", "Upgrade": "tcp"})
        await resp.prepare(request)
        request.protocol.keep_alive(False)
        parser = RawParser(queue)
        request.protocol.set_parser(parser)

        # A half-close ends the client's input, not the stream (see server._Handler); a
        # client gone altogether ends the request (its handler is cancelled).
        transport = request.transport
        request.protocol.on_half_close = lambda: _client_eof(transport, parser)
    else:
        resp = web.StreamResponse(status=200, headers={"Content-Type": content_type})
        await resp.prepare(request)
        asyncio.ensure_future(_pump_body(request, queue))
    return resp, Hijacked(request, resp, queue, upgrade)
