"""ExecSync: a command in a running pod container, its output gathered, within a
timeout (the kubelet's exec probes). The process is the container's own OCI process with
only its arguments changed, started by the shim as `darse exec` is."""

from __future__ import annotations

import copy
import json
import os
import secrets
import signal
import socket
import struct
import time

from darse.cri import containers
from darse.cri.node import Node
from darse.errors import Conflict, DarseError, InvalidArgument, SystemFailure
from darse.shim.client import check, read_line

_HEADER = struct.Struct(">BI")
STDOUT, STDERR, EXIT = 1, 2, 3
# A probe's output (stdout and stderr together) is kept up to this much, the rest read and
# dropped: a command printing without end must not fill darsed's memory, and the answer
# must fit the kubelet's 16 MiB message limit.
MAX_OUTPUT = 16 * 1024 * 1024 - 64 * 1024


class ExecTimeout(DarseError):
    """The command outlived the caller's timeout (gRPC's DEADLINE_EXCEEDED)."""


def _read_exact(sock: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("darse-shim closed the exec stream")
        buf += chunk
    return buf


def process_of(node: Node, container_id: str, cmd: list[str], tty: bool = False) -> dict:
    try:
        with open(os.path.join(node.container_dir(container_id), "config.json")) as f:
            proc = copy.deepcopy(json.load(f)["process"])
    except (OSError, ValueError, KeyError) as exc:
        raise SystemFailure(f"cannot read the spec of container {container_id}: "
                            f"{exc}") from None
    proc.pop("consoleSize", None)
    proc.update(args=list(cmd), terminal=tty)
    return proc


def exec_sync(node: Node, ref: str, cmd: list[str], timeout: float
              ) -> tuple[bytes, bytes, int]:
    """(stdout, stderr, exit code); ExecTimeout after timeout seconds (0: none)."""
    if not cmd:
        raise InvalidArgument("no command specified")
    doc = containers.refresh(node, node.store.container(ref))
    if doc["state"] != containers.RUNNING:
        raise Conflict(f"container {doc['id']} is not running")
    proc = process_of(node, doc["id"], cmd)
    deadline = time.monotonic() + timeout if timeout > 0 else None
    sock = node.shim.connect()
    out, err = bytearray(), bytearray()
    pid = 0
    try:
        sock.sendall((json.dumps({"op": "exec", "id": doc["id"],
                                  "exec_id": secrets.token_hex(16), "process": proc,
                                  "stdin": False}) + "\n").encode())
        pid = check(read_line(sock)).get("pid", 0)
        while True:
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError
                sock.settimeout(left)
            stream, length = _HEADER.unpack(_read_exact(sock, _HEADER.size))
            data = _read_exact(sock, length) if length else b""
            room = MAX_OUTPUT - len(out) - len(err)
            if stream == STDOUT:
                out += data[:room]
            elif stream == STDERR:
                err += data[:room]
            elif stream == EXIT:
                return bytes(out), bytes(err), int(json.loads(data).get("exit_code") or 0)
    except TimeoutError:
        if pid:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        raise ExecTimeout(f"command {cmd!r} timed out after {timeout}s") from None
    finally:
        sock.close()
