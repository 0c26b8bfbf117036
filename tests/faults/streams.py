"""Raw HTTP/1.1 streams to a darsed over its unix socket, by the hundred, from asyncio:
what hundreds of `docker logs -f`, `docker wait` or foreground `docker run` hold open."""

from __future__ import annotations

import asyncio
import os


class Stream:
    """One request whose response stays open: its headers read, its body to come."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 status: int) -> None:
        self.reader, self.writer, self.status = reader, writer, status

    async def body(self, timeout: float) -> bytes:
        """The rest of the response until darsed ends it (chunked, as aiohttp streams)."""
        out = b""
        async with asyncio.timeout(timeout):
            while not out.endswith(b"0\r\n\r\n"):
                chunk = await self.reader.read(65536)
                if not chunk:
                    break
                out += chunk
        return out

    def close(self) -> None:
        self.writer.close()


async def open_stream(sock: str, method: str, path: str, timeout: float = 10) -> Stream:
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_unix_connection(sock)
        writer.write(f"{method} {path} HTTP/1.1\r\nHost: darse\r\nContent-Length: 0\r\n\r\n"
                     .encode())
        head = await reader.readuntil(b"\r\n\r\n")
    return Stream(reader, writer, int(head.split()[1]))


async def timed_get(sock: str, path: str, timeout: float = 10) -> tuple[float, int, bytes]:
    """Seconds a GET took to answer in full, its status and body."""
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_unix_connection(sock)
        writer.write(f"GET {path} HTTP/1.1\r\nHost: darse\r\nConnection: close\r\n\r\n"
                     .encode())
        data = await reader.read()
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return loop.time() - t0, int(head.split()[1]), body


def threads_of(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def open_files(pid: int) -> list[str]:
    """What a process's descriptors point to (socket:[...], paths)."""
    out = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            out.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except FileNotFoundError:
            continue
    return out


def stream_fds(pid: int) -> int:
    """Descriptors a client's stream holds: its socket, a log file followed (executor
    threads' own SQLite connections are not the client's)."""
    return sum(1 for f in open_files(pid) if f.startswith("socket:") or f.endswith(".log")
               or ".log." in f)
