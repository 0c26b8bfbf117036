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
        pass
    try:
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")[:26]
                                               if "." not in text else
                                               text.replace("Z", "+00:00")).timestamp()
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
    records = []
    for name in _files(path):
        with open(name, "rb") as f:
            for line in f:
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
    return records


def follow(path: str, alive: Callable[[], bool], since_offset: int) -> Iterator[dict]:
    """New records appended after since_offset, until the container stops."""
    offset = since_offset
    while True:
        try:
            size = os.path.getsize(path)
        except FileNotFoundError:
            size = 0
        if size < offset:
            offset = 0  # rotated
        if size > offset:
            with open(path, "rb") as f:
                f.seek(offset)
                data = f.read()
            complete = data.rfind(b"\n") + 1
            for line in data[:complete].splitlines():
                try:
                    yield json.loads(line)
                except ValueError:
                    continue
            offset += complete
        elif not alive():
            return
        else:
            time.sleep(0.05)
