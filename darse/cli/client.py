"""The CLI's API client: HTTP/1.1 over the daemon's unix socket (or TCP), hijacked
streams for attach and exec, docker-style errors. Standard library only, for start-up
time: a CLI command is a few requests."""

from __future__ import annotations

import _socket
import posix  # os costs 1.3 ms of every command (its environ mapping); posix is built in

from darse.cli import fastjson as json
from darse.cli.http import Response, quote, send_request, urlencode

TYPE_CHECKING = False  # typing and socket's enums cost milliseconds on every command
if TYPE_CHECKING:
    import socket
    from collections.abc import Callable, Iterator
    from typing import Any

DEFAULT_HOST = "unix:///run/darse.sock"


class APIError(Exception):
    """An error response: the daemon's message and HTTP status."""

    def __init__(self, status: int, message: str, plain: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.plain = plain  # the client's own words, not the daemon's to quote

    @property
    def shown(self) -> str:
        """The line the docker CLI prints for it."""
        if self.plain or not self.status:
            return self.message
        return f"Error response from daemon: {self.message}"


def not_found(method: str, path: str, status: int, message: str) -> APIError:
    """The docker client's own words for a missing object on inspect and remove (its
    wrapResponseError), whatever the daemon said."""
    kind, _, name = path[1:].partition("/")
    if status == 404 and kind in ("containers", "images", "networks", "volumes") and name:
        inspected = name.endswith("/json") if kind in ("containers", "images") else True
        if method == "GET" and inspected:
            name = name.removesuffix("/json") if kind in ("containers", "images") else name
            return APIError(status, f"Error: No such {kind[:-1]}: {name}", plain=True)
        if method == "DELETE" and (kind in ("images", "containers") or "/" not in name):
            return APIError(status, f"Error: No such {kind[:-1]}: {name}", plain=True)
    return APIError(status, message)


def _read_head(sock: socket.socket) -> bytes:
    """A response's head, up to and with its blank line, and not a byte of the stream
    after it: what the socket holds is peeked at, then only the head is taken (a recv
    per byte cost 2 ms of every run's attach)."""
    head = b""
    while True:
        data = sock.recv(65536, _socket.MSG_PEEK)
        if not data:
            raise APIError(0, "the daemon closed the connection")
        end = (head[-3:] + data).find(b"\r\n\r\n")
        want = len(data) if end < 0 else end + 4 - len(head[-3:])
        while want > 0:
            chunk = sock.recv(want)
            if not chunk:
                raise APIError(0, "the daemon closed the connection")
            head += chunk
            want -= len(chunk)
        if end >= 0:
            return head


class Client:
    def __init__(self, host: str | None = None) -> None:
        self.host = (host or posix.environ.get(b"DARSE_HOST", b"").decode(errors="surrogateescape")
                     or DEFAULT_HOST)
        # darsed's arguments when root finds nobody on the socket: only the default one is
        # started (another socket may be anyone's, with any data root).
        self.autostart: list[str] | None = [] if self.host == DEFAULT_HOST else None
        self.autostart_log = "/run/darse/darsed.log"

    def _raw_socket(self) -> socket.socket:
        if self.host.startswith("unix://"):
            sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
            try:
                sock.connect(self.host[len("unix://"):])
            except OSError:
                sock.close()
                raise
            return sock
        if self.host.startswith("tcp://"):
            import socket

            addr, _, port = self.host[len("tcp://"):].rpartition(":")
            return socket.create_connection((addr, int(port)))
        raise APIError(0, f"unable to parse darse host `{self.host}`")

    # --- requests --------------------------------------------------------------

    def request(self, method: str, path: str, query: dict[str, Any] | None = None,
                body: Any = None, headers: dict[str, str] | None = None) -> Response:
        return self.send(method, path, query, body, headers)()

    def send(self, method: str, path: str, query: dict[str, Any] | None = None,
             body: Any = None, headers: dict[str, str] | None = None
             ) -> Callable[[], Response]:
        """Send the request now; the call returned reads its response (run sends its wait
        before the start it waits for, with no thread to read the answer meanwhile)."""
        url = quote(path, safe="/:@")
        if query:
            pairs = []
            for k, v in query.items():
                if v is None:
                    continue
                for item in v if isinstance(v, list) else [v]:
                    pairs.append((k, "1" if item is True else "0" if item is False else item))
            if pairs:
                url += "?" + urlencode(pairs)
        hdrs = {"Host": "docker", "User-Agent": "darse-cli/0.1", **(headers or {})}
        data = None
        if body is not None:
            if isinstance(body, (bytes, bytearray)) or hasattr(body, "read"):
                data = body
                hdrs.setdefault("Content-Type", "application/x-tar")
            else:
                data = json.dumps(body).encode()
                hdrs["Content-Type"] = "application/json"
        sock = self._connect_or_start()
        try:
            send_request(sock, method, url, hdrs, data)
        except OSError as exc:
            sock.close()
            raise APIError(0, self._unreachable(exc)) from None

        def response() -> Response:
            try:
                resp = Response(sock)
            except OSError as exc:
                sock.close()
                raise APIError(0, self._unreachable(exc)) from None
            if resp.status >= 400:
                raw = resp.read()
                resp.close()
                try:
                    message = json.loads(raw).get("message", raw.decode())
                except ValueError:
                    message = raw.decode(errors="replace").strip()
                raise not_found(method, path, resp.status, message)
            return resp

        return response

    def head(self, path: str, query: dict[str, Any] | None = None
             ) -> tuple[int, dict[str, str]]:
        """A HEAD request: (status, headers); its (absent) body is never read."""
        sock = self._connect_or_start()
        try:
            send_request(sock, "HEAD", quote(path, safe="/:@") +
                         ("?" + urlencode(query) if query else ""),
                         {"Host": "docker", "User-Agent": "darse-cli/0.1"}, None)
            resp = Response(sock)
        except OSError as exc:
            raise APIError(0, self._unreachable(exc)) from None
        finally:
            sock.close()
        return resp.status, resp.headers

    def json(self, method: str, path: str, query: dict[str, Any] | None = None,
             body: Any = None, headers: dict[str, str] | None = None) -> Any:
        resp = self.request(method, path, query, body, headers)
        try:
            raw = resp.read()
        except ConnectionError:  # the daemon went before its answer was whole
            raise APIError(0, "unexpected EOF") from None
        return json.loads(raw) if raw.strip() else None

    def lines(self, method: str, path: str, query: dict[str, Any] | None = None,
              body: Any = None, headers: dict[str, str] | None = None
              ) -> Iterator[dict[str, Any]]:
        """A JSON-lines stream (pull, push, load, events)."""
        resp = self.request(method, path, query, body, headers)
        buf = b""
        while chunk := resp.read1(65536):
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                if line.strip():
                    yield json.loads(line)
        if buf.strip():
            yield json.loads(buf)

    def hijack(self, path: str, query: dict[str, Any] | None = None,
               body: Any = None) -> socket.socket:
        """POST with Upgrade: tcp; returns the raw socket once the 101 is read."""
        url = path + ("?" + urlencode({k: ("1" if v is True else "0" if v is False else v)
                                       for k, v in (query or {}).items() if v is not None})
                      if query else "")
        data = json.dumps(body).encode() if body is not None else b""
        sock = self._connect_or_start()
        sock.sendall((f"POST {url} HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\n"
                      f"Upgrade: tcp\r\nContent-Type: application/json\r\n"
                      f"Content-Length: {len(data)}\r\n\r\n").encode() + data)
        head = _read_head(sock)
        status_line, _, rest = head.decode(errors="replace").partition("\r\n")
        status = int(status_line.split()[1])
        if status >= 400:
            length = 0
            for line in rest.split("\r\n"):
                if line.lower().startswith("content-length:"):
                    length = int(line.split(":", 1)[1])
            raw = b""
            while len(raw) < length:
                raw += sock.recv(length - len(raw))
            sock.close()
            try:
                message = json.loads(raw).get("message", "")
            except ValueError:
                message = raw.decode(errors="replace")
            raise APIError(status, message)
        return sock

    # --- reaching the daemon ------------------------------------------------------

    def _unreachable(self, exc: Exception) -> str:
        where = self.host
        return (f"Cannot connect to the darse daemon at {where}. Is the darse daemon "
                f"running? ({exc.__class__.__name__})")

    def _connect_or_start(self) -> socket.socket:
        try:
            return self._raw_socket()
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            if self.autostart is None or posix.geteuid() != 0:
                raise APIError(0, self._unreachable(exc)) from None
        self._start_daemon()
        return self._raw_socket()

    def _start_daemon(self) -> None:
        """Root and nothing on the socket: start darsed, apart from this shell (see
        darse.daemonize: nothing of the caller's directory or environment)."""
        import os
        import time

        from darse import daemonize

        os.makedirs(os.path.dirname(self.autostart_log), exist_ok=True)
        with open(self.autostart_log, "ab") as log:
            proc = daemonize.spawn("darse.daemon", self.autostart or [], log)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                self._raw_socket().close()
                return
            except OSError:
                time.sleep(0.02)
        raise APIError(0, f"darsed did not start (see {self.autostart_log})")
