"""Exec and Attach through the streaming server, with Kubernetes' WebSocket protocol
(v5.channel.k8s.io) as crictl's `-r websocket` speaks it."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import grpc
import pytest

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
