"""Reading a container's json-file log: tail, since/until, timestamps, follow."""

from __future__ import annotations

import datetime
import json
import os
import time
from collections.abc import Callable, Iterator


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


def _files(path: str) -> list[str]:
    rotated = []
    i = 1
    while os.path.exists(f"{path}.{i}"):
        rotated.append(f"{path}.{i}")
        i += 1
    return list(reversed(rotated)) + ([path] if os.path.exists(path) else [])


def read(path: str, tail: int | None = None, since: float | None = None,
         until: float | None = None) -> list[dict]:
    return read_with_offset(path, tail, since, until)[0]


def read_with_offset(path: str, tail: int | None = None, since: float | None = None,
                     until: float | None = None) -> tuple[list[dict], int]:
    """Records, and how far into the current file they go (where follow() resumes)."""
    records = []
    offset = 0
    for name in _files(path):
        with open(name, "rb") as f:
            data = f.read()
        complete = data.rfind(b"\n") + 1
        if name == path:
            offset = complete
        for line in data[:complete].splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            ts = _rfc3339(rec["time"])
            if since is not None and ts < since:
                continue
            if until is not None and ts > until:
                continue
            records.append(rec)
    if tail is not None and tail >= 0:
        records = records[-tail:] if tail else []
    return records, offset


def follow(path: str, alive: Callable[[], bool], since_offset: int) -> Iterator[dict]:
    """New records appended after since_offset, until the container stops (and what it
    wrote before stopping is read). The file is opened now and read through that
    descriptor, so a container removed meanwhile (docker run --rm) still gives its
    output; a rotation switches to the new file."""
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed below, whatever happens
    except FileNotFoundError:
        return
    try:
        f.seek(since_offset)
        pending = b""
        while True:
            running = alive()
            data = f.read()
            if data:
                pending += data
                complete = pending.rfind(b"\n") + 1
                for line in pending[:complete].splitlines():
                    try:
                        yield json.loads(line)
                    except ValueError:
                        continue
                pending = pending[complete:]
                continue
            try:
                rotated = os.stat(path).st_ino != os.fstat(f.fileno()).st_ino
            except FileNotFoundError:
                rotated = False
            if rotated:
                f.close()
                f = open(path, "rb")  # noqa: SIM115
                continue
            if not running:
                return
            time.sleep(0.05)
    finally:
        f.close()
