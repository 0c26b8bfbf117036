"""Freed memory given back to the system after darsed's big transfers.

glibc keeps what a thread frees in that thread's arena for its later allocations: after
a pull, import, load or push (tens of MB of buffers through the API's executor threads)
darsed stayed at twice its size while Python held none of it (a pull of 101 MiB: PSS
78 -> 130 MB). malloc_trim(0) releases the free pages of every arena (130 -> 69 MB)."""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable

_trim: Callable[[int], int] | None = None
_looked_up = False


def give_back() -> None:
    """Return free heap pages to the kernel; nothing where the C library has no
    malloc_trim (musl)."""
    global _trim, _looked_up
    if not _looked_up:
        _looked_up = True
        name = ctypes.util.find_library("c")
        try:
            _trim = ctypes.CDLL(name).malloc_trim if name else None
        except (OSError, AttributeError):
            _trim = None
    if _trim is not None:
        _trim(0)
