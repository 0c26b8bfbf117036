"""The message channel between the runtime and the container's init while it is made.

Newline-delimited JSON over one end of a socketpair; plain os.read/os.write so that it
works the same in the forked child, whatever Python state the parent had.
"""

from __future__ import annotations

import json
import os
import socket

from darse.errors import SystemFailure

TYPE_CHECKING = False  # typing costs milliseconds at every container start
if TYPE_CHECKING:
    from typing import Any


class Channel:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.fd = sock.fileno()
        self._buf = b""

    @classmethod
    def pair(cls) -> tuple[Channel, Channel]:
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        return cls(a), cls(b)

    def send(self, kind: str, **data: Any) -> None:
        data["type"] = kind
        payload = json.dumps(data).encode() + b"\n"
        while payload:
            payload = payload[os.write(self.fd, payload):]

    def recv(self) -> dict[str, Any]:
        while b"\n" not in self._buf:
            chunk = os.read(self.fd, 65536)
            if not chunk:
                raise EOFError("the other end of the channel closed")
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return json.loads(line)

    def expect(self, kind: str) -> dict[str, Any]:
        msg = self.recv()
        if msg.get("type") == "error":
            raise SystemFailure(msg.get("message", "container init failed"))
        if msg.get("type") != kind:
            raise SystemFailure(f"runtime protocol: expected {kind!r}, got {msg.get('type')!r}")
        return msg

    def close(self) -> None:
        self.sock.close()
