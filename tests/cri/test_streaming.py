"""Exec and Attach through the streaming server, with Kubernetes' WebSocket protocol
(v5.channel.k8s.io) as crictl's `-r websocket` speaks it, and over SPDY/3.1 as the
kubelet's proxy and crictl's default do."""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import threading
import zlib

import aiohttp
import grpc
import pytest

from darse.cri import spdy
from darse.cri.proto import api_pb2 as pb
from tests.cri.conftest import Cri, container_config
from tests.cri.test_pods import run_pod, start


async def _session(url: str, send: list[bytes], protocol: str = "v5.channel.k8s.io"
                   ) -> dict[int, bytes]:
    """Messages sent in order; everything received, by channel, until the server closes."""
    got: dict[int, bytes] = {}
    async with aiohttp.ClientSession() as session, \
            session.ws_connect(url, protocols=(protocol,)) as ws:
        assert ws.protocol == protocol
        for message in send:
            await ws.send_bytes(message)
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.BINARY:
                got[msg.data[0]] = got.get(msg.data[0], b"") + msg.data[1:]
    return got


def stream(url: str, *send: bytes, protocol: str = "v5.channel.k8s.io") -> dict[int, bytes]:
    return asyncio.run(asyncio.wait_for(_session(url, list(send), protocol), 20))


def test_exec_with_stdin_and_exit_status(pods: Cri) -> None:
    pod = run_pod(pods, "stream")
    cid = start(pods, pod, "c", "sleep", "1000")
    url = pods.runtime.Exec(pb.ExecRequest(container_id=cid, cmd=["sh"], stdin=True,
                                           stdout=True, stderr=True)).url
    got = stream(url, b"\x00echo from-stdin; echo oops >&2; hostname\n", b"\xff\x00")
    assert got[1] == b"from-stdin\nstream\n" and got[2] == b"oops\n"
    assert json.loads(got[3])["status"] == "Success"
    # The URL served once.
    with pytest.raises(aiohttp.WSServerHandshakeError):
        stream(url)

    url = pods.runtime.Exec(pb.ExecRequest(container_id=cid, cmd=["sh", "-c", "exit 3"],
                                           stdout=True, stderr=True)).url
    status = json.loads(stream(url, protocol="v4.channel.k8s.io")[3])
    assert status["reason"] == "NonZeroExitCode"
    assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "3"}]


def test_exec_with_a_terminal(pods: Cri) -> None:
    pod = run_pod(pods, "tty")
    cid = start(pods, pod, "c", "sleep", "1000")
    url = pods.runtime.Exec(pb.ExecRequest(container_id=cid, cmd=["sh"], tty=True,
                                           stdin=True, stdout=True)).url
    got = stream(url, b'\x04{"Width":91,"Height":17}',
                 b"\x00stty size; tty; echo $TERM; exit 4\n")
    assert b"17 91" in got[1] and b"/dev/pts/" in got[1] and b"xterm" in got[1]
    assert json.loads(got[3])["details"]["causes"][0]["message"] == "4"


def test_attach_to_a_containers_stdin(pods: Cri) -> None:
    pod = run_pod(pods, "attach")
    cc = container_config("c", "sh", "-c", "while read line; do echo got $line; done")
    cc.stdin = True
    cid = pods.runtime.CreateContainer(pb.CreateContainerRequest(
        pod_sandbox_id=pod, config=cc)).container_id
    pods.runtime.StartContainer(pb.StartContainerRequest(container_id=cid))
    url = pods.runtime.Attach(pb.AttachRequest(container_id=cid, stdin=True, stdout=True,
                                               stderr=True)).url
    got = stream(url, b"\x00hello\n", b"\xff\x00")  # end of input: the loop ends
    assert got[1] == b"got hello\n" and json.loads(got[3])["status"] == "Success"


def test_exec_refused_early(pods: Cri) -> None:
    pod = run_pod(pods, "refused")
    cid = start(pods, pod, "c", "true")
    for _ in range(100):
        if pods.runtime.ContainerStatus(pb.ContainerStatusRequest(
                container_id=cid)).status.state == pb.CONTAINER_EXITED:
            break
        asyncio.run(asyncio.sleep(0.05))
    with pytest.raises(grpc.RpcError) as info:
        pods.runtime.Exec(pb.ExecRequest(container_id=cid, cmd=["true"], stdout=True))
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION


class SpdyClient:
    """The client's side of SPDY/3.1 as client-go's remotecommand uses it, over a socket:
    enough to open the streams, send stdin and read what comes back."""

    def __init__(self, url: str, protocol: str = "v4.channel.k8s.io",
                 tunnel: socket.socket | None = None) -> None:
        """tunnel: a socket whose bytes already are the session's (no upgrade asked)."""
        from urllib.parse import urlsplit

        if tunnel is not None:
            self.sock, self.status, self.head = tunnel, 101, ""
        else:
            parts = urlsplit(url)
            self.sock = socket.create_connection((parts.hostname, parts.port), timeout=20)
            self.sock.sendall(
                f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                f"Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
                f"X-Stream-Protocol-Version: {protocol}\r\nContent-Length: 0\r\n\r\n".encode())
            head = b""
            while b"\r\n\r\n" not in head:
                head += self.sock.recv(1)
            self.status = int(head.split()[1])
            self.head = head.decode()
        self.deflate = zlib.compressobj(zdict=spdy.DICTIONARY)
        self.inflate = zlib.decompressobj(zdict=spdy.DICTIONARY)
        self.next_id = 1
        self.ids: dict[str, int] = {}
        self.replied: set[int] = set()

    def open(self, kind: str, fin: bool = False, key: str = "", **headers: str) -> None:
        headers = {"streamtype": kind, **headers}
        raw = struct.pack(">I", len(headers))
        for name, value in headers.items():
            raw += struct.pack(">I", len(name)) + name.encode() + \
                struct.pack(">I", len(value)) + value.encode()
        block = self.deflate.compress(raw) + self.deflate.flush(zlib.Z_SYNC_FLUSH)
        payload = struct.pack(">IIH", self.next_id, 0, 0) + block
        self.sock.sendall(struct.pack(">HHI", 0x8003, 1, ((1 if fin else 0) << 24)
                                      | len(payload)) + payload)
        self.ids[key or kind] = self.next_id
        self.next_id += 2

    def send(self, kind: str, data: bytes, fin: bool = False) -> None:
        self.sock.sendall(struct.pack(">II", self.ids[kind], ((1 if fin else 0) << 24)
                                      | len(data)) + data)

    def _exact(self, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("closed")
            buf += chunk
        return buf

    def collect(self, *until: str) -> dict[str, bytes]:
        """Data by stream until the `until` ones (the error stream) ended; every stream
        was answered."""
        names = {v: k for k, v in self.ids.items()}
        got: dict[str, bytes] = {}
        replied = self.replied
        left = set(until or ("error",))
        while True:
            first, second = struct.unpack(">II", self._exact(8))
            payload = self._exact(second & 0xFFFFFF)
            if first & 0x80000000:
                if first & 0xFFFF == 2:  # SYN_REPLY
                    replied.add(struct.unpack_from(">I", payload)[0])
                    self.inflate.decompress(payload[4:])
                continue
            name = names[first & 0x7FFFFFFF]
            got[name] = got.get(name, b"") + payload
            if second >> 24 & 1:
                left.discard(name)
                if not left:
                    assert replied == set(self.ids.values())  # every SYN_STREAM answered
                    return got


def test_exec_and_attach_over_spdy(pods: Cri) -> None:
    pod = run_pod(pods, "spdy")
    cid = start(pods, pod, "c", "sleep", "1000")
    url = pods.runtime.Exec(pb.ExecRequest(container_id=cid, cmd=["sh"], stdin=True,
                                           stdout=True, stderr=True)).url
    client = SpdyClient(url)
    assert client.status == 101 and "X-Stream-Protocol-Version: v4.channel.k8s.io" in \
        client.head
    client.open("error", fin=True)  # as client-go: the client never writes there
    for kind in ("stdin", "stdout", "stderr"):
        client.open(kind)
    client.send("stdin", b"echo from-stdin; echo oops >&2; exit 3\n", fin=True)
    got = client.collect()
    assert got["stdout"] == b"from-stdin\n" and got["stderr"] == b"oops\n"
    assert json.loads(got["error"])["details"]["causes"] == [{"reason": "ExitCode",
                                                              "message": "3"}]
    # A protocol darse does not speak: refused before any upgrade.
    url = pods.runtime.Exec(pb.ExecRequest(container_id=cid, cmd=["true"], stdout=True)).url
    assert SpdyClient(url, protocol="v1.channel.k8s.io").status == 403

    cc = container_config("echo", "sh", "-c", "while read line; do echo got $line; done")
    cc.stdin = True
    other = pods.runtime.CreateContainer(pb.CreateContainerRequest(
        pod_sandbox_id=pod, config=cc)).container_id
    pods.runtime.StartContainer(pb.StartContainerRequest(container_id=other))
    url = pods.runtime.Attach(pb.AttachRequest(container_id=other, stdin=True,
                                               stdout=True)).url
    client = SpdyClient(url)
    client.open("error", fin=True)
    client.open("stdin")
    client.open("stdout")
    client.send("stdin", b"hello\n", fin=True)
    got = client.collect()
    assert got["stdout"] == b"got hello\n" and json.loads(got["error"])["status"] == "Success"


def _websocket_tunnel(url: str, protocol: str) -> tuple[socket.socket, str | None]:
    """client-go's SPDY-over-WebSocket dialer: a socket whose bytes travel in the
    WebSocket's binary messages (a thread pumps them), and the protocol the server chose."""
    mine, theirs = socket.socketpair()
    mine.settimeout(20)
    chosen: list[str | None] = []
    ready = threading.Event()

    async def pump() -> None:
        async with aiohttp.ClientSession() as session:
            try:
                ws = await session.ws_connect(url, protocols=(protocol,))
            except aiohttp.WSServerHandshakeError:
                chosen.append(None)
                ready.set()
                theirs.close()
                return
            chosen.append(ws.protocol)
            ready.set()
            reader, writer = await asyncio.open_connection(sock=theirs)

            async def up() -> None:
                while data := await reader.read(65536):
                    await ws.send_bytes(data)
                await ws.close()

            sending = asyncio.ensure_future(up())
            try:
                async for msg in ws:
                    if msg.type == aiohttp.WSMsgType.BINARY:
                        writer.write(msg.data)
                        await writer.drain()
            except ConnectionError:
                pass  # the test is done with its end
            sending.cancel()
            writer.close()

    threading.Thread(target=asyncio.run, args=(pump(),), daemon=True).start()
    assert ready.wait(20)
    return mine, chosen[0]


@pytest.mark.parametrize("transport", ["spdy", "websocket"])
def test_port_forward(pods: Cri, transport: str) -> None:
    pod = run_pod(pods, "forwarded")
    web = start(pods, pod, "web", "sh", "-c",
                "echo through-port-forward >/tmp/index.html; exec httpd -f -p 8080 -h /tmp")
    wait = "for i in $(seq 50); do wget -qO- http://127.0.0.1:8080/index.html && break; " \
           "sleep 0.1; done"
    assert b"through" in pods.runtime.ExecSync(pb.ExecSyncRequest(
        container_id=web, cmd=["sh", "-c", wait], timeout=10)).stdout
    url = pods.runtime.PortForward(pb.PortForwardRequest(pod_sandbox_id=pod,
                                                         port=[8080])).url
    if transport == "websocket":
        sock, chosen = _websocket_tunnel(url, "SPDY/3.1+portforward.k8s.io")
        assert chosen == "SPDY/3.1+portforward.k8s.io"
        client = SpdyClient(url, tunnel=sock)
    else:
        client = SpdyClient(url, protocol="portforward.k8s.io")
    assert client.status == 101
    for rid in ("0", "1"):  # two connections over one session, as kubectl makes them
        client.open("error", key=f"error{rid}", port="8080", requestid=rid)
        client.open("data", key=f"data{rid}", port="8080", requestid=rid)
        client.send(f"data{rid}", b"GET /index.html HTTP/1.0\r\n\r\n", fin=True)
    got = client.collect("data0", "data1")
    for rid in ("0", "1"):
        assert got[f"data{rid}"].startswith(b"HTTP/1.1 200 OK")
        assert got[f"data{rid}"].endswith(b"\r\n\r\nthrough-port-forward\n")
    # A port nobody listens on: the error stream says so.
    client.open("error", key="error2", port="9", requestid="2")
    client.open("data", key="data2", port="9", requestid="2")
    got = client.collect("error2")
    assert b"failed to connect to localhost:9" in got["error2"]
