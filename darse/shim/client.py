"""darsed's side of the shim protocol: start the shim if none answers, call it."""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable
from typing import Any

from darse import daemonize, errors


class ShimClient:
    def __init__(self, exec_root: str) -> None:
        self.exec_root = exec_root
        self.path = os.path.join(exec_root, "shim.sock")

    def ensure_running(self) -> None:
        """Connect, or start a shim that outlives us (its own session) and wait for it."""
        try:
            self.call("ping")
            return
        except OSError:
            pass
        os.makedirs(self.exec_root, exist_ok=True)
        with open(os.path.join(self.exec_root, "shim.log"), "ab") as log:
            # The keeper, which starts the shim as its child and keeps its streams and
            # its orphans when it dies; --daemon: the child exits once the keeper forked
            # off (nobody's child).
            if daemonize.spawn("darse.shim.keeper", ["--daemon", "--exec-root",
                                                     self.exec_root], log,
                               lean=True).wait() != 0:
                raise errors.Unavailable(f"darse-shim did not start (see {log.name})")
        deadline = time.monotonic() + 10
        while True:
            try:
                self.call("ping")
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise errors.Unavailable("darse-shim did not start") from None
                time.sleep(0.01)

    def connect(self) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(self.path)
        except OSError:
            sock.close()
            raise
        return sock

    def call(self, op: str, **req: Any) -> dict[str, Any]:
        return self.send(op, **req)()

    def send(self, op: str, **req: Any) -> Callable[[], dict[str, Any]]:
        """call() in two halves: the request now, its reply when the function returned is
        called (darsed does its own part meanwhile: unmounting while the shim deletes)."""
        sock = self.connect()
        try:
            sock.sendall((json.dumps({"op": op, **req}) + "\n").encode())
        except BaseException:
            sock.close()
            raise

        def reply() -> dict[str, Any]:
            try:
                return check(_read_reply(sock))
            finally:
                sock.close()

        return reply


def _read_reply(sock: socket.socket) -> dict[str, Any]:
    """A call's one-line reply, read in blocks: nothing follows it on the connection
    (unlike attach's, where read_line must leave the stream's bytes), and a listing of
    1000 containers read a byte per recv took most of darsed's re-adoption."""
    chunks: list[bytes] = []
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("darse-shim closed the connection")
        chunks.append(chunk)
        if chunk.endswith(b"\n"):
            return json.loads(b"".join(chunks))


def read_line(sock: socket.socket) -> dict[str, Any]:
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = sock.recv(1)
        if not chunk:
            raise ConnectionError("darse-shim closed the connection")
        buf += chunk
    return json.loads(buf)


def check(reply: dict[str, Any]) -> dict[str, Any]:
    if reply.get("ok") or "op" in reply:
        return reply
    kind = getattr(errors, reply.get("kind", ""), None)
    if not (isinstance(kind, type) and issubclass(kind, errors.DarseError)):
        kind = errors.SystemFailure
    raise kind(reply.get("error", "darse-shim failed"))
