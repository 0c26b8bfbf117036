"""Client side of the Engine API's streams: multiplexed output and progress lines."""

from __future__ import annotations

import posix  # os and struct cost 1.7 ms of every run; posix is built in
import sys

from darse.cli.client import APIError

TYPE_CHECKING = False  # typing costs milliseconds on every command
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

# Docker's multiplexing header: stream kind (1 stdout, 2 stderr), three pad bytes, size
# (big-endian).
_HEADER_SIZE = 8


class Demuxer:
    """Writes a multiplexed stream's frames to fd 1 or 2 as they complete."""

    def __init__(self) -> None:
        self._buf = b""

    def feed(self, data: bytes) -> None:
        self._buf += data
        while len(self._buf) >= _HEADER_SIZE:
            kind, length = self._buf[0], int.from_bytes(self._buf[4:8], "big")
            end = _HEADER_SIZE + length
            if len(self._buf) < end:
                return
            posix.write(2 if kind == 2 else 1, self._buf[_HEADER_SIZE:end])
            self._buf = self._buf[end:]


def print_progress(events: Iterable[dict[str, Any]], quiet: bool, skip: tuple[str, ...],
                   out: Any = None) -> None:
    """Prints docker's one-line-per-layer-state progress; an error event raises APIError.

    Byte-level states (`skip`) would repeat a line per chunk without a terminal that
    redraws, so only each layer's changes of state are printed.
    """
    out = out or sys.stdout
    seen: dict[str, str] = {}
    for event in events:
        if "error" in event:
            raise APIError(500, event["error"])
        status = event.get("status", "")
        if quiet or status in skip:
            continue
        if event.get("id"):
            if seen.get(event["id"]) != status:
                seen[event["id"]] = status
                print(f"{event['id']}: {status}", file=out)
        else:
            print(status, file=out)
