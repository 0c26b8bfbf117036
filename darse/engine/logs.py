"""Reading a container's json-file log: tail, since/until, timestamps, follow.

Read in bounded batches, never whole (issue 10 item 8: one 26 MB log took darsed to
332 MB): --tail walks back from the end block by block, and the rest is read forward
a batch at a time as the client takes it.
"""

from __future__ import annotations

import datetime
import json
import os
import time
from collections.abc import Callable
from typing import IO, Any

BLOCK = 64 * 1024
BATCH = 256 * 1024  # bytes of records handed out at a time


def parse_time(text: str) -> float | None:
    """--since/--until: unix seconds (with fraction), RFC 3339, or a duration like 10m."""
    if not text:
        return None
    text = text.strip()
    units = {"s": 1, "m": 60, "h": 3600}
    if text[-1] in units and text[:-1].replace(".", "", 1).isdigit():
        return time.time() - float(text[:-1]) * units[text[-1]]
    try:
        return float(text)
    except ValueError:
        return _rfc3339(text)


def _rfc3339(ts: str) -> float:
    base, _, rest = ts.partition(".")
    frac, zone = "0", "+00:00"
    if rest:
        digits = "".join(c for c in rest if c.isdigit())
        frac = digits[:6] or "0"
        zone = rest[len(digits):].replace("Z", "+00:00") or "+00:00"
    elif ts.endswith("Z"):
        base = ts[:-1]
    return datetime.datetime.fromisoformat(base + zone).timestamp() + float("0." + frac)


def _rotated(path: str) -> list[str]:
    """NAME.n ... NAME.1: the rotated files, oldest first."""
    rotated = []
    i = 1
    while os.path.exists(f"{path}.{i}"):
        rotated.append(f"{path}.{i}")
        i += 1
    return list(reversed(rotated))


def _scan_back(f: IO[bytes], end: int, need: int, keep: Callable[[bytes], bool]
               ) -> tuple[int, int]:
    """Where the last `need` kept lines of f[:end] start (end is just past a newline),
    and how many kept lines there are if fewer: read backwards a block at a time."""
    if end <= 0 or need <= 0:
        return end, 0
    pos, carry, count = end - 1, b"", 0  # a block never holds its final newline
    while pos > 0:
        step = min(BLOCK, pos)
        pos -= step
        f.seek(pos)
        block = f.read(step) + carry
        lines = block.split(b"\n")
        carry = lines.pop(0) if pos > 0 else b""  # a line's tail: completed by the next read
        line_end = pos + len(block)
        for line in reversed(lines):
            start = line_end - len(line)
            if keep(line):
                count += 1
                if count == need:
                    return start, count
            line_end = start - 1
    return 0, count


class LogReader:
    """A container's log in order, a batch at a time, from the --tail/--since point on.
    The current file stays open so that a follower reads on from where the first pass
    ended, and a container removed meanwhile (run --rm) still gives its output."""

    def __init__(self, path: str, tail: int | None = None, since: float | None = None,
                 until: float | None = None) -> None:
        self.path, self.since, self.until = path, since, until
        self.live: IO[bytes] | None = None
        self.sources: list[IO[bytes]] = []
        try:
            self.live = open(path, "rb") if path else None  # noqa: SIM115 - see close()
        except FileNotFoundError:
            pass
        for name in _rotated(path) if path else ():
            try:
                self.sources.append(open(name, "rb"))  # noqa: SIM115
            except FileNotFoundError:
                continue
        if self.live is not None:
            self.sources.append(self.live)
        self.pending = b""
        if tail is not None and tail >= 0:
            self._seek_tail(tail)

    def _keep(self, line: bytes) -> bool:
        if self.since is None and self.until is None:
            return True
        try:
            ts = _rfc3339(json.loads(line)["time"])
        except (ValueError, KeyError, TypeError):
            return False
        return not ((self.since is not None and ts < self.since) or
                    (self.until is not None and ts > self.until))

    def _seek_tail(self, tail: int) -> None:
        need = tail
        index, offset = len(self.sources), 0
        for i in range(len(self.sources) - 1, -1, -1):
            f = self.sources[i]
            size = os.fstat(f.fileno()).st_size
            if f is self.live:  # only whole lines: a half-written one is the follower's
                size = _complete_end(f, size)
            start, count = _scan_back(f, size, need, self._keep)
            index, offset = i, start
            need -= count
            if need <= 0:
                break
        if tail == 0:  # nothing of the past: a follower starts at the end
            index, offset = len(self.sources), 0
            if self.live is not None:
                index = len(self.sources) - 1
                offset = _complete_end(self.live, os.fstat(self.live.fileno()).st_size)
        for f in self.sources[:index]:
            f.close()
        self.sources = self.sources[index:]
        for i, f in enumerate(self.sources):
            f.seek(offset if i == 0 else 0)

    def read_batch(self, follow: bool = False) -> list[dict[str, Any]]:
        """The next records (about BATCH bytes of them); [] when there is nothing more
        now. Following, a rotated current file is read to its end, then the new one."""
        while self.sources:
            f = self.sources[0]
            data = f.read(BATCH)
            if data:
                data = self.pending + data
                complete = data.rfind(b"\n") + 1
                self.pending = data[complete:]
                records = self._parse(data[:complete])
                if records:
                    return records
                continue
            if f is not self.live:
                f.close()
                self.sources.pop(0)
                self.pending = b""
                continue
            if follow and self._reopen_rotated():
                continue
            return []
        return []

    def _parse(self, data: bytes) -> list[dict[str, Any]]:
        out = []
        for line in data.splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if self.since is not None or self.until is not None:
                ts = _rfc3339(rec.get("time", "1970-01-01T00:00:00Z"))
                if (self.since is not None and ts < self.since) or \
                        (self.until is not None and ts > self.until):
                    continue
            out.append(rec)
        return out

    def _reopen_rotated(self) -> bool:
        """The writer moved the current file aside (rotation): go on with the new one."""
        try:
            rotated = os.stat(self.path).st_ino != os.fstat(self.live.fileno()).st_ino
        except FileNotFoundError:
            return False
        if not rotated:
            return False
        try:
            new = open(self.path, "rb")  # noqa: SIM115
        except FileNotFoundError:
            return False
        self.live.close()
        self.live = new
        self.sources = [new]
        self.pending = b""
        return True

    def close(self) -> None:
        for f in self.sources:
            f.close()
        if self.live is not None and not self.live.closed:
            self.live.close()
        self.sources = []


def _complete_end(f: IO[bytes], size: int) -> int:
    """The offset just past the last newline of f[:size]."""
    pos = size
    while pos > 0:
        step = min(BLOCK, pos)
        pos -= step
        f.seek(pos)
        block = f.read(step)
        nl = block.rfind(b"\n")
        if nl >= 0:
            return pos + nl + 1
    return 0


def read(path: str, tail: int | None = None, since: float | None = None,
         until: float | None = None) -> list[dict[str, Any]]:
    """Every record at once: for small logs only (a build step's output)."""
    reader = LogReader(path, tail, since, until)
    try:
        out: list[dict[str, Any]] = []
        while batch := reader.read_batch():
            out.extend(batch)
        return out
    finally:
        reader.close()
