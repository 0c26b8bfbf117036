"""darse-shim's side of its keeper (darse/shim/keeper.py): copies of each process's stdio
handed over to be held while no shim runs, taken back by the next shim, and the keeper's
records of the processes it reaped."""

from __future__ import annotations

import json
import socket
import sys
from typing import Any

from darse.shim.keeper import close_all, recv, send

STDIN = "#stdin"  # the key of a process's stdin, held apart: closing it is an end of input


class KeeperLink:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        sock.settimeout(5)  # the keeper answers at once; a stuck one must not stop the shim
        self.pending: list[dict[str, Any]] = []  # its records that came in with the fetch
        self.broken = False

    def hold(self, key: str, meta: dict[str, Any], fds: list[int]) -> None:
        self._send(f"hold {key}\n".encode() + json.dumps(meta).encode(), fds)

    def drop(self, key: str) -> None:
        self._send(f"drop {key}".encode())

    def _send(self, data: bytes, fds: list[int] | tuple[int, ...] = ()) -> None:
        if self.broken:
            return
        try:
            send(self.sock, data, fds)
        except OSError as exc:
            # Without it the shim still runs its containers, only not across its own death.
            self.broken = True
            print(f"darse-shim: its keeper is gone ({exc}): streams are not kept",
                  file=sys.stderr, flush=True)

    def receive(self) -> tuple[str | None, str, Any, list[int]]:
        """The keeper's next message: (op, key, what came with it, descriptors); op None
        when the keeper is gone, "" when there was nothing to read."""
        try:
            data, fds = recv(self.sock)
        except (BlockingIOError, InterruptedError, TimeoutError):
            return "", "", None, []
        except OSError:
            data, fds = b"", []
        if not data:
            close_all(fds)
            self.broken = True
            return None, "", None, []
        head, _, body = data.partition(b"\n")
        op, _, key = head.decode(errors="replace").partition(" ")
        try:
            return op, key, json.loads(body) if body else None, fds
        except ValueError:
            close_all(fds)
            return "", "", None, []

    def fetch(self) -> dict[str, tuple[dict[str, Any], list[int]]]:
        """Everything the keeper holds, by key: (what it is, its descriptors)."""
        self._send(b"fetch")
        held: dict[str, tuple[dict[str, Any], list[int]]] = {}
        while not self.broken:
            op, key, body, fds = self.receive()
            if op is None or op == "fetched":
                break
            if op == "hold" and isinstance(body, dict):
                held[key] = (body, fds)
                continue
            close_all(fds)
            if op == "reaped" and isinstance(body, dict):
                self.pending.append(body)
        return held
