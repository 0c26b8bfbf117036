"""The CRI streaming server: Exec and Attach answer with a URL, the client (the kubelet's
proxy, crictl) opens it and the process's stdio flows there, in either of Kubernetes'
remote-command transports: SPDY/3.1 (darse.cri.spdy; one stream per stdin, stdout,
stderr, error, resize) or WebSocket (v5/v4.channel.k8s.io: binary messages whose first
byte is the channel, 0 stdin, 1 stdout, 2 stderr, 3 the final status, 4 terminal size,
and in v5 255 to close a channel); PortForward over SPDY (portforward.k8s.io: an error
and a data stream per connection, to the port on the pod's loopback), or that same SPDY
session tunnelled in a WebSocket's binary messages (SPDY/3.1+portforward.k8s.io,
client-go's tunnelling dialer).

It runs its own asyncio loop in a thread of darsed, on a loopback port; a URL is good once,
for a minute, as containerd's are."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import socket
import struct
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import WSMsgType, web

from darse import syscalls
from darse.api.hijack import RawParser, UpgradedResponse
from darse.cri import containers, spdy
from darse.cri.execsync import process_of
from darse.cri.node import Node
from darse.errors import Conflict, DarseError, InvalidArgument, NotFound
from darse.network import netns as netns_thread

PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
PORTFORWARD = "portforward.k8s.io"
TUNNEL = "SPDY/3.1+" + PORTFORWARD
STREAM_WAIT = 30.0  # seconds for a SPDY client to open the streams it asked for
Send = Callable[[int, bytes], Awaitable[None]]
STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255
TOKEN_TTL = 60.0
_HEADER = struct.Struct(">BI")


def _frame(stream: int, data: bytes) -> bytes:
    return _HEADER.pack(stream, len(data)) + data


def _status(code: int | None, error: str = "") -> bytes:
    """The v4 error channel's Status: Success, or why it failed."""
    if error:
        return json.dumps({"metadata": {}, "status": "Failure", "message": error}).encode()
    if not code:
        return json.dumps({"metadata": {}, "status": "Success"}).encode()
    return json.dumps({
        "metadata": {}, "status": "Failure",
        "message": f"command terminated with non-zero exit code: exit status {code}",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}).encode()


class StreamServer:
    def __init__(self, node: Node, host: str = "127.0.0.1", port: int = 0) -> None:
        self.node, self.host, self.port = node, host, port
        self.requests: dict[str, tuple[float, dict[str, Any]]] = {}
        self.lock = threading.Lock()
        self.loop = asyncio.new_event_loop()
        self.runner: web.AppRunner | None = None
        self.ready = threading.Event()

    # --- the gRPC side ---------------------------------------------------------------

    def start(self) -> None:
        threading.Thread(target=self._run, daemon=True, name="cri-streaming").start()
        self.ready.wait(10)

    def stop(self) -> None:
        if self.runner is not None:
            done = asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop)
            try:
                done.result(2)
            except Exception:  # noqa: BLE001 - streams still open end with darsed anyway
                pass
        self.loop.call_soon_threadsafe(self.loop.stop)

    def url(self, kind: str, request: dict[str, Any]) -> str:
        """A one-time URL for an Exec, Attach or PortForward request, checked now rather
        than later."""
        if kind == "portforward":
            doc = self.node.store.sandbox(request["id"])
            if doc["state"] != "SANDBOX_READY":
                raise Conflict(f"pod sandbox {doc['id']} is not ready")
            request = dict(request, netns=doc["namespaces"].get("net", "host"))
        else:
            doc = containers.refresh(self.node, self.node.store.container(request["id"]))
            if doc["state"] != containers.RUNNING:
                raise Conflict(f"container {doc['id']} is not running")
            if kind == "exec" and not request.get("cmd"):
                raise InvalidArgument("no command specified")
            if not (request.get("stdin") or request.get("stdout") or request.get("stderr")):
                raise InvalidArgument("one of stdin, stdout, or stderr must be set")
        token = secrets.token_urlsafe(12)
        now = time.monotonic()
        with self.lock:
            for old in [t for t, (at, _) in self.requests.items() if now - at > TOKEN_TTL]:
                del self.requests[old]
            self.requests[token] = (now, dict(request, id=doc["id"], kind=kind))
        return f"http://{self.host}:{self.port}/{kind}/{token}"

    # --- the client side -------------------------------------------------------------

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        app = web.Application()
        for kind in ("exec", "attach"):  # GET for WebSocket, POST for SPDY
            app.router.add_get(f"/{kind}/{{token}}", self._serve)
            app.router.add_post(f"/{kind}/{{token}}", self._serve)
        app.router.add_post("/portforward/{token}", self._serve)
        app.router.add_get("/portforward/{token}", self._serve)  # the WebSocket tunnel
        self.runner = web.AppRunner(app, access_log=None)
        self.loop.run_until_complete(self.runner.setup())
        site = web.TCPSite(self.runner, self.host, self.port)
        self.loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.ready.set()
        self.loop.run_forever()

    def _take(self, kind: str, token: str) -> dict[str, Any]:
        with self.lock:
            at, req = self.requests.pop(token, (0.0, {}))
        if not req or req["kind"] != kind or time.monotonic() - at > TOKEN_TTL:
            raise NotFound("unknown or expired streaming request")
        return req

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        kind = request.path.split("/")[1]
        try:
            req = self._take(kind, request.match_info["token"])
        except NotFound as exc:
            return web.Response(status=404, text=str(exc))
        if kind == "portforward":
            return await self._portforward(request, req)
        if request.headers.get("Upgrade", "").lower().startswith("spdy/"):
            return await self._spdy(request, kind, req)
        return await self._websocket(request, kind, req)

    async def _bridge(self, send: Send, events: asyncio.Queue, kind: str,
                      req: dict[str, Any]) -> None:
        """The process's output to send(channel, data), the client's events (channel,
        data) to it: 0 input (b'' its end), 4 a terminal size; the status last on 3."""
        cid, tty = req["id"], bool(req.get("tty"))
        exec_id = secrets.token_hex(16)
        if kind == "exec":
            try:
                process = await asyncio.to_thread(process_of, self.node, cid, req["cmd"], tty)
            except Exception as exc:  # noqa: BLE001 - told to the client, not raised
                await send(ERROR, _status(None, str(exc)))
                return
            if tty:
                process["env"] = [*process.get("env", []), "TERM=xterm"]
            op = {"op": "exec", "id": cid, "exec_id": exec_id, "process": process,
                  "stdin": bool(req.get("stdin"))}
        else:
            op = {"op": "attach", "id": cid, "stdin": bool(req.get("stdin"))}
        reader, writer = await asyncio.open_unix_connection(self.node.shim.path)
        try:
            writer.write((json.dumps(op) + "\n").encode())
            await writer.drain()
            reply = json.loads(await reader.readline() or b"{}")
            if not reply.get("ok"):
                await send(ERROR, _status(None, reply.get("error", "darse-shim closed the "
                                                                   "stream")))
                return
            pump = asyncio.ensure_future(self._from_client(events, writer, cid,
                                                           exec_id if kind == "exec" else ""))
            try:
                code = await self._to_client(send, reader, req)
            finally:
                pump.cancel()
            await send(ERROR, _status(code))
        finally:
            writer.close()

    async def _to_client(self, send: Send, reader: asyncio.StreamReader,
                         req: dict[str, Any]) -> int | None:
        """Output until the process ends; its exit code (None when the shim went)."""
        while True:
            try:
                stream, length = _HEADER.unpack(await reader.readexactly(_HEADER.size))
                data = await reader.readexactly(length) if length else b""
            except (asyncio.IncompleteReadError, ConnectionError):
                return None
            if stream == 3:
                return int(json.loads(data or b"{}").get("exit_code") or 0)
            wanted = req.get("stdout") if stream == STDOUT else req.get("stderr")
            if wanted and data:
                await send(stream, data)

    async def _from_client(self, events: asyncio.Queue, writer: asyncio.StreamWriter,
                           cid: str, exec_id: str) -> None:
        while True:
            channel, data = await events.get()
            if channel == STDIN:
                writer.write(_frame(0, data))  # b'': the end of input
            elif channel == RESIZE:
                try:
                    size = json.loads(data)
                    await asyncio.to_thread(
                        self.node.shim.call, "resize", id=cid, exec_id=exec_id or None,
                        height=int(size.get("Height", 0)), width=int(size.get("Width", 0)))
                except (ValueError, OSError, DarseError):
                    pass
            await writer.drain()

    # --- WebSocket ---------------------------------------------------------------------

    async def _websocket(self, request: web.Request, kind: str, req: dict[str, Any]
                         ) -> web.StreamResponse:
        ws = web.WebSocketResponse(protocols=PROTOCOLS, autoping=True, heartbeat=None)
        if not ws.can_prepare(request).ok:
            return web.Response(status=400, text="a WebSocket upgrade with one of "
                                                 f"{', '.join(PROTOCOLS)} is expected")
        await ws.prepare(request)
        events: asyncio.Queue = asyncio.Queue()

        async def send(channel: int, data: bytes) -> None:
            await ws.send_bytes(bytes([channel]) + data)

        async def receive() -> None:
            async for msg in ws:
                if msg.type != WSMsgType.BINARY or not msg.data:
                    continue
                channel, data = msg.data[0], bytes(msg.data[1:])
                if channel == STDIN and data:
                    events.put_nowait((STDIN, data))
                elif channel == CLOSE and data[:1] == bytes([STDIN]):
                    events.put_nowait((STDIN, b""))
                elif channel == RESIZE:
                    events.put_nowait((RESIZE, data))

        reading = asyncio.ensure_future(receive())
        try:
            await self._bridge(send, events, kind, req)
        finally:
            reading.cancel()
            await ws.close()
        return ws

    # --- SPDY --------------------------------------------------------------------------

    async def _spdy(self, request: web.Request, kind: str, req: dict[str, Any]
                    ) -> web.StreamResponse:
        offered = [v.strip() for h in request.headers.getall("X-Stream-Protocol-Version", [])
                   for v in h.split(",")]
        chosen = next((p for p in PROTOCOLS if p in offered), None)
        if chosen is None:
            return web.Response(status=403, text="no supported streaming protocol among "
                                                 f"{offered} (darse: {', '.join(PROTOCOLS)})")
        resp, session, transport, running = await _upgrade(request, chosen)
        tty = bool(req.get("tty"))
        expected = {"error"} | {k for k in ("stdin", "stdout") if req.get(k)}
        if req.get("stderr") and not tty:
            expected.add("stderr")
        if tty:
            expected.add("resize")
        streams: dict[str, spdy.Stream] = {}
        try:
            deadline = asyncio.get_running_loop().time() + STREAM_WAIT
            while not expected <= streams.keys():
                left = deadline - asyncio.get_running_loop().time()
                opened = await asyncio.wait_for(session.opened.get(), max(left, 0.001))
                if opened is None:
                    return resp
                streams[opened.kind] = opened
        except TimeoutError:
            transport.close()
            return resp
        events: asyncio.Queue = asyncio.Queue()

        async def forward(kind_: str, channel: int) -> None:
            while (data := await streams[kind_].read()) is not None:
                events.put_nowait((channel, data))
            if channel == STDIN:
                events.put_nowait((STDIN, b""))

        async def send(channel: int, data: bytes) -> None:
            name = {STDOUT: "stdout", STDERR: "stdout" if tty else "stderr",
                    ERROR: "error"}[channel]
            if name in streams:
                streams[name].write(data)

        readers = [asyncio.ensure_future(forward(k, c)) for k, c in
                   (("stdin", STDIN), ("resize", RESIZE)) if k in streams]
        try:
            await self._bridge(send, events, kind, req)
            for stream in streams.values():
                stream.close()
            await asyncio.sleep(0.05)  # the client reads the status, then hangs up
        finally:
            for task in readers:
                task.cancel()
            running.cancel()
            transport.close()
        return resp

    async def _portforward(self, request: web.Request, req: dict[str, Any]
                           ) -> web.StreamResponse:
        """kubectl port-forward: a SPDY session (upgraded to, or tunnelled in a
        WebSocket) with a pair of streams (error, data) per connection."""
        if request.method == "GET":
            return await self._portforward_tunnel(request, req)
        offered = [v.strip() for h in request.headers.getall("X-Stream-Protocol-Version", [])
                   for v in h.split(",")]
        if PORTFORWARD not in offered:
            return web.Response(status=403, text=f"{PORTFORWARD} is expected")
        resp, session, transport, running = await _upgrade(request, PORTFORWARD)
        try:
            await _forward_streams(session, req["netns"])
        finally:
            running.cancel()
            transport.close()
        return resp

    async def _portforward_tunnel(self, request: web.Request, req: dict[str, Any]
                                  ) -> web.StreamResponse:
        """The SPDY session's bytes in binary WebSocket messages, either way."""
        ws = web.WebSocketResponse(protocols=(TUNNEL,), autoping=True, heartbeat=None)
        ready = ws.can_prepare(request)
        if not ready.ok or ready.protocol != TUNNEL:
            return web.Response(status=400, text=f"a WebSocket upgrade with {TUNNEL} is "
                                                 "expected")
        await ws.prepare(request)
        incoming: asyncio.Queue[bytes] = asyncio.Queue()
        outgoing: asyncio.Queue[bytes | None] = asyncio.Queue()

        async def receive() -> None:
            try:
                async for msg in ws:
                    if msg.type == WSMsgType.BINARY and msg.data:
                        incoming.put_nowait(bytes(msg.data))
            finally:
                incoming.put_nowait(b"")

        async def send() -> None:  # one writer: the session's frames stay in order
            while (data := await outgoing.get()) is not None:
                await ws.send_bytes(data)

        session = spdy.Session(incoming.get, outgoing.put_nowait)
        tasks = [asyncio.ensure_future(t) for t in (receive(), send(), session.run())]
        try:
            await _forward_streams(session, req["netns"])
        finally:
            for task in tasks:
                task.cancel()
            await ws.close()
        return ws


async def _forward_streams(session: spdy.Session, netns: str) -> None:
    """Each (error, data) pair of streams the client opens, paired by the request id (or
    the port), forwarded until the client hangs up."""
    loop = asyncio.get_running_loop()
    pending: dict[str, spdy.Stream] = {}  # error streams waiting for their data stream
    tasks: set[asyncio.Future] = set()
    try:
        while (opened := await session.opened.get()) is not None:
            key = opened.headers.get("requestid") or opened.headers.get("port", "")
            if opened.kind == "error":
                pending[key] = opened
            elif opened.kind == "data":
                task = asyncio.ensure_future(_portforward_pair(
                    loop, netns, pending.pop(key, None), opened))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
    finally:
        for task in list(tasks):
            task.cancel()


async def _portforward_pair(loop: asyncio.AbstractEventLoop, netns: str,
                            error: spdy.Stream | None, data: spdy.Stream) -> None:
    """One forwarded connection: the data stream to the port on the pod's loopback."""
    try:
        port = int(data.headers.get("port", ""))
        if not 0 < port < 65536:
            raise ValueError
    except ValueError:
        if error is not None:
            error.write(f"invalid port {data.headers.get('port')!r}".encode())
            error.close()
        data.close()
        return
    sock = await asyncio.to_thread(_socket_in, netns)
    sock.setblocking(False)
    try:
        await loop.sock_connect(sock, ("127.0.0.1", port))
    except OSError as exc:
        sock.close()
        if error is not None:
            error.write(f"failed to connect to localhost:{port} inside the pod: "
                        f"{exc.strerror or exc}".encode())
            error.close()
        data.close()
        return

    async def up() -> None:
        while (chunk := await data.read()) is not None:
            await loop.sock_sendall(sock, chunk)
        try:
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    async def down() -> None:
        while chunk := await loop.sock_recv(sock, 65536):
            data.write(chunk)
        data.close()

    sending = asyncio.ensure_future(up())
    try:
        await down()
        await asyncio.wait_for(sending, 5)
    except (OSError, TimeoutError):
        pass
    finally:
        sending.cancel()
        sock.close()
        if error is not None:
            error.close()


async def _upgrade(request: web.Request, protocol: str
                   ) -> tuple[web.StreamResponse, spdy.Session, Any, asyncio.Future]:
    """101 to SPDY/3.1: the connection is then the session's (read by a task)."""
    resp = UpgradedResponse(status=101, headers={"Connection": "Upgrade", "Upgrade": "SPDY/3.1",
                                          "X-Stream-Protocol-Version": protocol})
    await resp.prepare(request)
    request.protocol.keep_alive(False)
    incoming: asyncio.Queue[bytes] = asyncio.Queue()
    request.protocol.set_parser(RawParser(incoming))
    transport = request.transport
    session = spdy.Session(incoming.get, lambda data: transport.write(data)
                           if not transport.is_closing() else None)
    return resp, session, transport, asyncio.ensure_future(session.run())


def _socket_in(netns: str) -> socket.socket:
    """A TCP socket in the pod's network namespace (it stays there whatever thread uses
    it), made by a thread that entered it."""
    if netns == "host":
        return socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    fd = os.open(netns, os.O_RDONLY | os.O_CLOEXEC)
    try:
        def make() -> socket.socket:
            syscalls.setns(fd, syscalls.CLONE_NEWNET)
            return socket.socket(socket.AF_INET, socket.SOCK_STREAM)

        return netns_thread.in_thread(make)
    finally:
        os.close(fd)
