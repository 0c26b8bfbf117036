"""The little HTTP/1.1 the CLI speaks to one daemon: a request, a response with
Content-Length or chunked body. Written here because http.client costs 22 ms of imports
(email, ssl) on every command, twice what `docker ps` takes in all (bench/engine.py)."""

from __future__ import annotations

TYPE_CHECKING = False  # socket's enums cost 2 ms a command; the client uses _socket
if TYPE_CHECKING:
    import socket


class Response:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""
        self.eof = False
        head = self._until(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                self.headers[k.strip().lower()] = v.strip()
        self.chunked = self.headers.get("transfer-encoding", "").lower() == "chunked"
        length = self.headers.get("content-length")
        self.remaining = int(length) if length is not None else None
        if self.status in (101, 204, 304) or (100 <= self.status < 200):
            self.remaining = 0
        self.chunk_left = 0
        self.done = self.remaining == 0

    def _fill(self) -> bool:
        data = self.sock.recv(65536)
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def _until(self, marker: bytes) -> bytes:
        while marker not in self.buf:
            if not self._fill():
                raise ConnectionError("the daemon closed the connection")
        head, self.buf = self.buf.split(marker, 1)
        return head

    def _take(self, n: int) -> bytes:
        while not self.buf and not self.eof:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read1(self, n: int = 65536) -> bytes:
        """Some bytes of the body (b'' at its end), without waiting for more."""
        if self.done:
            return b""
        if self.chunked:
            if self.chunk_left == 0:
                size_line = self._until(b"\r\n")
                self.chunk_left = int(size_line.split(b";")[0], 16)
                if self.chunk_left == 0:
                    self._until(b"\r\n")
                    self.done = True
                    return b""
            out = self._take(min(n, self.chunk_left))
            self.chunk_left -= len(out)
            if self.chunk_left == 0:
                self._until(b"\r\n")
            if not out:
                self.done = True
            return out
        if self.remaining is None:
            out = self._take(n)
            self.done = not out
            return out
        out = self._take(min(n, self.remaining))
        self.remaining -= len(out)
        self.done = self.remaining == 0 or not out
        return out

    def read(self, n: int = -1) -> bytes:
        parts = []
        size = 0
        while n < 0 or size < n:
            chunk = self.read1(65536 if n < 0 else n - size)
            if not chunk:
                break
            parts.append(chunk)
            size += len(chunk)
        return b"".join(parts)

    def close(self) -> None:
        self.sock.close()


def send_request(sock: socket.socket, method: str, url: str, headers: dict[str, str],
                 body: object = None) -> None:
    """Write the request; a file-like body goes chunked."""
    lines = [f"{method} {url} HTTP/1.1"]
    if hasattr(body, "read"):
        headers = {**headers, "Transfer-Encoding": "chunked"}
    elif body is not None:
        headers = {**headers, "Content-Length": str(len(body))}
    elif method in ("POST", "PUT"):
        headers = {**headers, "Content-Length": "0"}
    lines += [f"{k}: {v}" for k, v in headers.items()]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    if hasattr(body, "read"):
        while chunk := body.read(1 << 20):
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        sock.sendall(b"0\r\n\r\n")
    elif body:
        sock.sendall(body)


# urllib.parse costs 2 ms a command for the two functions below.
_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~")


def quote(text: str, safe: str = "/") -> str:
    ok = _SAFE | frozenset(safe.encode())
    return "".join(chr(b) if b in ok else f"%{b:02X}" for b in str(text).encode())


def urlencode(pairs: list[tuple[str, object]] | dict[str, object]) -> str:
    items = pairs.items() if isinstance(pairs, dict) else pairs
    return "&".join(f"{quote(str(k), '')}={quote(str(v), '')}" for k, v in items)
