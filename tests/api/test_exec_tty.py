"""Exec through docker-py's low-level client, as its integration suite does: the pty is the
one asked at create, the start's Tty only frames the stream; lowercase detachKeys work."""

from __future__ import annotations

import socket
import time

import docker as dockerpy
import pytest

from tests.daemon import Darsed


@pytest.fixture
def api(darsed: Darsed):  # noqa: ANN201
    c = dockerpy.APIClient(base_url=darsed.host, version="1.41")
    cid = c.create_container("busybox", "cat", stdin_open=True, detach=True)["Id"]
    c.start(cid)
    yield c, cid
    c.remove_container(cid, force=True)
    c.close()


def test_create_tty_kept_start_tty_frames(api) -> None:  # noqa: ANN001
    c, cid = api
    probe = ["sh", "-c", "if test -t 1; then echo pty; else echo nopty; fi"]
    # A pty asked at create, a framed stream asked at start (docker-py's default).
    ex = c.exec_create(cid, probe, tty=True)["Id"]
    assert c.exec_start(ex, tty=False) == b"pty\r\n"
    assert c.exec_inspect(ex)["ProcessConfig"]["tty"] is True
    # No pty at create, a raw stream at start: the process still has no terminal.
    ex = c.exec_create(cid, probe, tty=False)["Id"]
    assert c.exec_start(ex, tty=True) == b"nopty\n"
    # The framed stream of a pty process is all stdout frames, as dockerd sends it.
    ex = c.exec_create(cid, ["sh", "-c", "echo out; echo err >&2"], tty=True)["Id"]
    out = c.exec_start(ex, tty=False, demux=True)
    assert out == (b"out\r\nerr\r\n", None)


def test_lowercase_detach_keys(api) -> None:  # noqa: ANN001
    c, cid = api
    ex = c.exec_create(cid, "cat", stdin=True, tty=True, detach_keys="ctrl-x")["Id"]
    assert c.exec_inspect(ex)["DetachKeys"] == "ctrl-x"
    sock = c.exec_start(ex, tty=True, socket=True)
    raw = sock._sock
    try:
        raw.sendall(b"abc\n")
        time.sleep(0.3)
        raw.sendall(b"\x18")  # ctrl-x: the attach ends, the process stays
        raw.settimeout(10)
        while raw.recv(4096):
            pass
    finally:
        sock.close()
    insp = c.exec_inspect(ex)
    assert insp["Running"] is True
    with pytest.raises(socket.error):
        raw.sendall(b"gone\n")
