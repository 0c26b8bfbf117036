"""The json-file log driver, as Docker writes it: one JSON object per line
({"log": "...\\n", "stream": "stdout", "time": "...Z"}), rotated at max-size into
NAME.1 ... NAME.(max-file - 1)."""

from __future__ import annotations

import datetime
import json
import os
import time

DEFAULT_MAX_SIZE = 10 * 1000 * 1000  # rotated by default (Docker's own default is never)
DEFAULT_MAX_FILE = 3
PARTIAL_LIMIT = 16 * 1024  # Docker splits longer lines into 16K partial messages


def parse_size(text: str) -> int:
    """'10m', '512k', '1g' as log-opts max-size takes them."""
    units = {"b": 1, "k": 1000, "m": 1000**2, "g": 1000**3}
    t = text.strip().lower().rstrip("b") or "0"
    if t[-1] in units:
        return int(float(t[:-1]) * units[t[-1]])
    return int(t)


def _open_log(path: str):  # noqa: ANN202 - a binary file
    """Root's, group-readable as dockerd's: a container's output is often secret."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC,
                 0o640)
    os.fchmod(fd, 0o640)
    return os.fdopen(fd, "ab")  # lives as long as the container


def timestamp() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class JsonFileLogger:
    def __init__(self, path: str, max_size: int = DEFAULT_MAX_SIZE,
                 max_file: int = DEFAULT_MAX_FILE, attrs: dict[str, str] | None = None
                 ) -> None:
        self.path, self.max_size, self.max_file = path, max_size, max(max_file, 1)
        self.attrs = attrs or None
        self.file = _open_log(path)
        self.size = self.file.tell()
        self.partial = {"stdout": b"", "stderr": b""}

    def write(self, stream: str, data: bytes) -> None:
        buf = self.partial[stream] + data
        lines = buf.split(b"\n")
        self.partial[stream] = lines.pop()
        for line in lines:
            self._emit(stream, line + b"\n")
        while len(self.partial[stream]) >= PARTIAL_LIMIT:
            self._emit(stream, self.partial[stream][:PARTIAL_LIMIT])
            self.partial[stream] = self.partial[stream][PARTIAL_LIMIT:]

    def _emit(self, stream: str, line: bytes) -> None:
        entry = {"log": line.decode("utf-8", "replace"), "stream": stream}
        if self.attrs:
            entry["attrs"] = self.attrs
        entry["time"] = timestamp()
        record = json.dumps(entry).encode() + b"\n"
        if self.max_size > 0 and self.size + len(record) > self.max_size and self.size:
            self._rotate()
        self.file.write(record)
        self.file.flush()
        self.size += len(record)

    def _rotate(self) -> None:
        self.file.close()
        if self.max_file > 1:
            for i in range(self.max_file - 1, 0, -1):
                src = self.path if i == 1 else f"{self.path}.{i - 1}"
                if os.path.exists(src):
                    os.replace(src, f"{self.path}.{i}")
        else:
            os.unlink(self.path)
        self.file = _open_log(self.path)
        self.size = 0

    def close(self) -> None:
        for stream, rest in self.partial.items():
            if rest:
                self._emit(stream, rest)
        self.file.close()


def timestamp_ns() -> str:
    """RFC 3339 with nanoseconds, as the kubelet parses a CRI log line's time."""
    ns = time.time_ns()
    whole = datetime.datetime.fromtimestamp(ns // 10**9, datetime.UTC)
    return whole.strftime("%Y-%m-%dT%H:%M:%S") + f".{ns % 10**9:09d}Z"


class CriLogger:
    """The CRI log format the kubelet reads (`kubectl logs`): one line per line of output,
    `TIME STREAM TAG text`, TAG F for a full line and P for a piece of a longer one (cut at
    PARTIAL_LIMIT, as containerd's default line size). The kubelet rotates the file itself,
    then asks for it to be reopened (ReopenContainerLog): no rotation here."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.file = _open_log(path)
        self.partial = {"stdout": b"", "stderr": b""}

    def write(self, stream: str, data: bytes) -> None:
        buf = self.partial[stream] + data
        lines = buf.split(b"\n")
        self.partial[stream] = lines.pop()
        for line in lines:
            # However the line arrived (one read or many), the same pieces.
            while len(line) > PARTIAL_LIMIT:
                self._emit(stream, b"P", line[:PARTIAL_LIMIT])
                line = line[PARTIAL_LIMIT:]
            self._emit(stream, b"F", line)
        while len(self.partial[stream]) > PARTIAL_LIMIT:
            self._emit(stream, b"P", self.partial[stream][:PARTIAL_LIMIT])
            self.partial[stream] = self.partial[stream][PARTIAL_LIMIT:]

    def _emit(self, stream: str, tag: bytes, line: bytes) -> None:
        self.file.write(b"%s %s %s %s\n" % (timestamp_ns().encode(), stream.encode(), tag,
                                            line))
        self.file.flush()

    def reopen(self) -> None:
        self.file.close()
        self.file = _open_log(self.path)

    def close(self) -> None:
        for stream, rest in self.partial.items():
            if rest:
                self._emit(stream, b"F", rest)
        self.file.close()
