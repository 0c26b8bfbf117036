"""Clients that leave in the middle: an interactive exec's process goes with its client
(and the supervisor's fds with it); an export left half-read unmounts the stopped
container's filesystem and ends its writer."""

from __future__ import annotations

import json
import os
import socket
import time

from tests.daemon import Darsed, leftover_mounts


def _shim_fds(darsed: Darsed) -> int:
    pid = int(open(os.path.join(darsed.exec_root, "shim.pid")).read())
    return len(os.listdir(f"/proc/{pid}/fd"))


def _processes(needle: bytes) -> list[int]:
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if f.read() == needle:
                    out.append(int(pid))
        except OSError:
            continue
    return out


def _hijack(darsed: Darsed, path: str, body: dict) -> socket.socket:
    data = json.dumps(body).encode()
    s = socket.socket(socket.AF_UNIX)
    s.connect(darsed.sock)
    s.sendall(f"POST {path} HTTP/1.1\r\nHost: d\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
              f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
              .encode() + data)
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return s


def _until(check, timeout: float = 10) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_an_interactive_exec_goes_with_its_client(darsed: Darsed) -> None:
    status, out = darsed.api("POST", "/containers/create?name=execleft",
                             {"Image": "busybox", "Cmd": ["sleep", "1000"]})
    cid = json.loads(out)["Id"]
    assert darsed.api("POST", f"/containers/{cid}/start")[0] == 204
    fds0 = _shim_fds(darsed)
    for tty in (True, False):
        status, out = darsed.api("POST", f"/containers/{cid}/exec", {
            "Cmd": ["sleep", "7531"], "AttachStdin": True, "AttachStdout": True,
            "AttachStderr": True, "Tty": tty})
        exec_id = json.loads(out)["Id"]
        s = _hijack(darsed, f"/exec/{exec_id}/start", {"Detach": False, "Tty": tty})
        assert _until(lambda: _processes(b"sleep\x007531\x00"))
        s.close()  # the client goes: no detach keys, no end of input
        assert _until(lambda: not _processes(b"sleep\x007531\x00")), "the exec lives on"
        assert _until(lambda: _shim_fds(darsed) <= fds0), (_shim_fds(darsed), fds0)
        # its exit reaches darsed's record after the process and its streams are gone
        path = f"/exec/{exec_id}/json"
        assert _until(lambda p=path: json.loads(darsed.api("GET", p)[1])["Running"] is False), \
            "inspect says the exec runs"
    darsed.api("DELETE", f"/containers/{cid}?force=1")


def test_an_export_left_half_read_unmounts(darsed: Darsed) -> None:
    status, out = darsed.api("POST", "/containers/create?name=exportleft",
                             {"Image": "busybox", "Cmd": ["true"]})
    cid = json.loads(out)["Id"]
    rootfs = os.path.join(darsed.data_root, "containers", cid, "rootfs")
    s = socket.socket(socket.AF_UNIX)
    s.connect(darsed.sock)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.sendall(f"GET /containers/{cid}/export HTTP/1.1\r\nHost: d\r\n\r\n".encode())
    got = b""
    while len(got) < 8192:  # the headers, then the tar's first blocks
        got += s.recv(4096)
    assert got.startswith(b"HTTP/1.1 200")
    assert rootfs in leftover_mounts(darsed.base.as_posix())  # mounted for the export
    s.close()  # the client goes after a few bytes of a tar of megabytes
    assert _until(lambda: rootfs not in leftover_mounts(darsed.base.as_posix()))
    assert darsed.api("DELETE", f"/containers/{cid}")[0] == 204


def _threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def _half_read(darsed: Darsed, path: str, keep: int) -> None:
    s = socket.socket(socket.AF_UNIX)
    s.connect(darsed.sock)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: d\r\n\r\n".encode())
    got = b""
    while len(got) < keep:
        chunk = s.recv(4096)
        assert chunk
        got += chunk
    assert got.startswith(b"HTTP/1.1 200")
    s.close()


def test_a_save_left_half_read_ends_its_writer(darsed: Darsed) -> None:
    pid = darsed.proc.pid
    status, whole = darsed.api("GET", "/images/get?names=busybox")  # warms the executor
    assert status == 200 and len(whole) > 1_000_000
    threads0 = _threads(pid)
    for _ in range(3):
        _half_read(darsed, "/images/get?names=busybox", 8192)
    assert _until(lambda: _threads(pid) <= threads0), (_threads(pid), threads0)
    assert darsed.api("GET", "/_ping")[0] == 200
