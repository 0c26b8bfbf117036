"""SPDY/3.1, the server's side, as far as Kubernetes' streaming uses it (the kubelet's
proxy, crictl's default transport): the client opens streams (SYN_STREAM, a
`streamtype` header each), darse answers them (SYN_REPLY) and both send data frames on
them, FIN ending a side. Header blocks are zlib streams primed with the protocol's
dictionary. No flow control: Kubernetes' peers neither send nor wait for WINDOW_UPDATE.

Frames: a control frame is 0x8003 TYPE(16) FLAGS(8) LENGTH(24) then its fields; a data
frame is STREAM-ID(31, top bit 0) FLAGS(8) LENGTH(24) then the bytes."""

from __future__ import annotations

import asyncio
import struct
import zlib
from collections.abc import Awaitable, Callable

SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = \
    1, 2, 3, 4, 6, 7, 8, 9
FLAG_FIN = 0x01

# The SPDY/3 header compression dictionary (draft 3, section 2.6.10.1): header names,
# each with its 4-byte length, then status lines, dates and common values unprefixed.
_NAMES = (
    "options", "head", "post", "put", "delete", "trace", "accept", "accept-charset",
    "accept-encoding", "accept-language", "accept-ranges", "age", "allow", "authorization",
    "cache-control", "connection", "content-base", "content-encoding", "content-language",
    "content-length", "content-location", "content-md5", "content-range", "content-type",
    "date", "etag", "expect", "expires", "from", "host", "if-match", "if-modified-since",
    "if-none-match", "if-range", "if-unmodified-since", "last-modified", "location",
    "max-forwards", "pragma", "proxy-authenticate", "proxy-authorization", "range",
    "referer", "retry-after", "server", "te", "trailer", "transfer-encoding", "upgrade",
    "user-agent", "vary", "via", "warning", "www-authenticate", "method", "get", "status",
    "200 OK", "version", "HTTP/1.1", "url", "public", "set-cookie", "keep-alive", "origin")
_CODES = ("100 101 201 202 205 206 300 302 303 304 305 306 307 402 405 406 407 408 409 410 "
          "411 412 413 414 415 416 417 502 504 505").split()
_REASONS = ("203 Non-Authoritative Information", "204 No Content", "301 Moved Permanently",
            "400 Bad Request", "401 Unauthorized", "403 Forbidden", "404 Not Found",
            "500 Internal Server Error", "501 Not Implemented", "503 Service Unavailable")
_REST = ("Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, "
         "Fri, Sat, Sun, GMT" + "chunked,text/html,image/png,image/jpg,image/gif,"
         "application/xml,application/xhtml+xml,text/plain,text/javascript,public"
         "privatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.")
DICTIONARY = b"".join(struct.pack(">I", len(n)) + n.encode() for n in _NAMES) + \
    ("".join(_CODES) + "".join(_REASONS) + _REST).encode()
assert zlib.adler32(DICTIONARY) == 3821447106, "the SPDY/3 dictionary is mistyped"


class Stream:
    def __init__(self, session: Session, stream_id: int, headers: dict[str, str]) -> None:
        self.session, self.id, self.headers = session, stream_id, headers
        self.incoming: asyncio.Queue[bytes | None] = asyncio.Queue()  # None: the peer's FIN
        self.closed = False

    @property
    def kind(self) -> str:
        return self.headers.get("streamtype", "")

    def write(self, data: bytes) -> None:
        for i in range(0, len(data), 0xFFFF):  # frames well under the 24-bit limit
            self.session.data(self.id, data[i:i + 0xFFFF])

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.session.data(self.id, b"", fin=True)

    async def read(self) -> bytes | None:
        return await self.incoming.get()


class Session:
    """One upgraded connection: read() gives the client's bytes (b'' at its end)."""

    def __init__(self, read: Callable[[], Awaitable[bytes]],
                 write: Callable[[bytes], None]) -> None:
        self._read, self._write = read, write
        self.inflate = zlib.decompressobj(zdict=DICTIONARY)
        self.deflate = zlib.compressobj(zdict=DICTIONARY)
        self.streams: dict[int, Stream] = {}
        self.opened: asyncio.Queue[Stream | None] = asyncio.Queue()

    # --- writing ----------------------------------------------------------------------

    def _control(self, kind: int, flags: int, payload: bytes) -> None:
        self._write(struct.pack(">HHI", 0x8003, kind, (flags << 24) | len(payload)) + payload)

    def data(self, stream_id: int, data: bytes, fin: bool = False) -> None:
        self._write(struct.pack(">II", stream_id & 0x7FFFFFFF,
                                ((FLAG_FIN if fin else 0) << 24) | len(data)) + data)

    def _header_block(self, headers: dict[str, str]) -> bytes:
        raw = struct.pack(">I", len(headers))
        for k, v in headers.items():
            raw += struct.pack(">I", len(k)) + k.encode() + struct.pack(">I", len(v)) + \
                v.encode()
        return self.deflate.compress(raw) + self.deflate.flush(zlib.Z_SYNC_FLUSH)

    def _parse_headers(self, block: bytes) -> dict[str, str]:
        raw = self.inflate.decompress(block)
        out: dict[str, str] = {}
        (count,), pos = struct.unpack_from(">I", raw), 4
        for _ in range(count):
            (n,) = struct.unpack_from(">I", raw, pos)
            name = raw[pos + 4:pos + 4 + n].decode("latin-1").lower()
            pos += 4 + n
            (n,) = struct.unpack_from(">I", raw, pos)
            out[name] = raw[pos + 4:pos + 4 + n].decode("latin-1").split("\0")[0]
            pos += 4 + n
        return out

    # --- reading ----------------------------------------------------------------------

    async def run(self) -> None:
        """Frames until the client goes; then every stream and the opener see the end."""
        buf = b""
        try:
            while True:
                while len(buf) < 8 or len(buf) < 8 + (struct.unpack_from(">I", buf, 4)[0]
                                                        & 0xFFFFFF):
                    chunk = await self._read()
                    if not chunk:
                        return
                    buf += chunk
                first, second = struct.unpack_from(">II", buf)
                length, flags = second & 0xFFFFFF, second >> 24
                payload, buf = buf[8:8 + length], buf[8 + length:]
                if first & 0x80000000:
                    self._on_control((first >> 0) & 0xFFFF, flags, payload)
                else:
                    stream = self.streams.get(first & 0x7FFFFFFF)
                    if stream is not None:
                        if payload:
                            stream.incoming.put_nowait(payload)
                        if flags & FLAG_FIN:
                            stream.incoming.put_nowait(None)
        finally:
            for stream in self.streams.values():
                stream.incoming.put_nowait(None)
            self.opened.put_nowait(None)

    def _on_control(self, kind: int, flags: int, payload: bytes) -> None:
        if kind == SYN_STREAM:
            stream_id = struct.unpack_from(">I", payload)[0] & 0x7FFFFFFF
            stream = Stream(self, stream_id, self._parse_headers(payload[10:]))
            self.streams[stream_id] = stream
            self._control(SYN_REPLY, 0, struct.pack(">I", stream_id) + self._header_block({}))
            if flags & FLAG_FIN:
                stream.incoming.put_nowait(None)
            self.opened.put_nowait(stream)
        elif kind == RST_STREAM:
            stream = self.streams.get(struct.unpack_from(">I", payload)[0] & 0x7FFFFFFF)
            if stream is not None:
                stream.closed = True
                stream.incoming.put_nowait(None)
        elif kind == PING:
            self._control(PING, 0, payload)
        elif kind == HEADERS:
            self._parse_headers(payload[4:])  # keeps the zlib stream in step
        # SETTINGS, WINDOW_UPDATE, GOAWAY: nothing to do for a server that never waits
