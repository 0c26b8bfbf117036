"""Reading a terminal's primary side in tests."""

from __future__ import annotations

import os
import select
import time


def read_until(fd: int, needle: bytes | None, timeout: float = 10) -> bytes:
    """What fd gives until `needle` shows (None: until the other side closes) or time runs out."""
    out = b""
    deadline = time.monotonic() + timeout
    while (needle is None or needle not in out) and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: every process holding the terminal has gone
                break
            if not chunk:
                break
            out += chunk
    return out
