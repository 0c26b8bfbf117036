"""The CRI streaming server: Exec and Attach answer with a URL, the client (the kubelet,
crictl) opens it and the process's stdio flows there. Spoken here: Kubernetes' WebSocket
remote-command protocols (v5/v4.channel.k8s.io: binary messages whose first byte is the
channel, 0 stdin, 1 stdout, 2 stderr, 3 the final status, 4 terminal size, and in v5 255
to close a channel); `crictl exec -it -r websocket`. Not yet: SPDY, which the kubelet's
proxy and crictl's default use, and PortForward.

It runs its own asyncio loop in a thread of darsed, on a loopback port; a URL is good once,
for a minute, as containerd's are."""

from __future__ import annotations

import asyncio
import json
import secrets
import struct
import threading
import time
from typing import Any

from aiohttp import WSMsgType, web

from darse.cri import containers
from darse.cri.execsync import process_of
from darse.cri.node import Node
from darse.errors import Conflict, DarseError, InvalidArgument, NotFound

PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
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
            asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)

    def url(self, kind: str, request: dict[str, Any]) -> str:
        """A one-time URL for an Exec or Attach request, checked now rather than later."""
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
        app.router.add_get("/exec/{token}", self._serve)
        app.router.add_get("/attach/{token}", self._serve)
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
        ws = web.WebSocketResponse(protocols=PROTOCOLS, autoping=True, heartbeat=None)
        if not ws.can_prepare(request).ok:
            return web.Response(status=400, text="a WebSocket upgrade with one of "
                                                 f"{', '.join(PROTOCOLS)} is expected")
        await ws.prepare(request)
        try:
            await self._bridge(ws, kind, req)
        finally:
            await ws.close()
        return ws

    async def _bridge(self, ws: web.WebSocketResponse, kind: str, req: dict[str, Any]) -> None:
        cid, tty = req["id"], bool(req.get("tty"))
        exec_id = secrets.token_hex(16)
        if kind == "exec":
            try:
                process = await asyncio.to_thread(process_of, self.node, cid, req["cmd"], tty)
            except Exception as exc:  # noqa: BLE001 - told to the client, not raised
                await ws.send_bytes(bytes([ERROR]) + _status(None, str(exc)))
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
                await ws.send_bytes(bytes([ERROR]) + _status(
                    None, reply.get("error", "darse-shim closed the stream")))
                return
            pump = asyncio.ensure_future(self._from_client(ws, writer, cid,
                                                           exec_id if kind == "exec" else ""))
            try:
                code = await self._to_client(ws, reader, req)
            finally:
                pump.cancel()
            await ws.send_bytes(bytes([ERROR]) + _status(code))
        finally:
            writer.close()

    async def _to_client(self, ws: web.WebSocketResponse, reader: asyncio.StreamReader,
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
                await ws.send_bytes(bytes([stream]) + data)

    async def _from_client(self, ws: web.WebSocketResponse, writer: asyncio.StreamWriter,
                           cid: str, exec_id: str) -> None:
        async for msg in ws:
            if msg.type != WSMsgType.BINARY or not msg.data:
                continue
            channel, data = msg.data[0], msg.data[1:]
            if channel == STDIN:
                writer.write(_frame(0, data) if data else b"")
            elif channel == CLOSE and data[:1] == bytes([STDIN]):
                writer.write(_frame(0, b""))  # end of input
            elif channel == RESIZE:
                try:
                    size = json.loads(data)
                    await asyncio.to_thread(
                        self.node.shim.call, "resize", id=cid, exec_id=exec_id or None,
                        height=int(size.get("Height", 0)), width=int(size.get("Width", 0)))
                except (ValueError, OSError, DarseError):
                    pass
            await writer.drain()
