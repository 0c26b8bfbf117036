"""A terminal through the console socket (runc's protocol), and exec into a container."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time

from darse.runtime import console
from tests.runtime.conftest import RUNTIME, Runtime
from tests.terminal import read_until


def console_server(path: str) -> socket.socket:
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    return server


def test_terminal_through_console_socket(runtime: Runtime, tmp_path) -> None:
    sock_path = str(tmp_path / "console.sock")
    server = console_server(sock_path)
    cid = runtime.new_id()
    bundle = runtime.bundle(["sh"], process_terminal=True,
                            process_consoleSize={"height": 40, "width": 100})
    runtime("create", "--bundle", str(bundle), "--console-socket", sock_path, cid)
    conn, _ = server.accept()
    name, master = console.recv_fd(conn)
    conn.close()
    server.close()
    assert name.startswith("/dev/pts/")
    runtime("start", cid)
    os.write(master, b"tty; stty size; echo $((6*7))\n")
    out = read_until(master, b"42")
    assert b"/dev/pts/0" in out and b"40 100" in out and b"42" in out
    os.write(master, b"exit 5\n")
    deadline = time.monotonic() + 5
    while runtime.state(cid)["status"] != "stopped" and time.monotonic() < deadline:
        time.sleep(0.02)
    os.close(master)
    runtime("delete", cid)


def test_exec_joins_the_container(runtime: Runtime) -> None:
    cid = runtime.start_detached(["sleep", "100"], hostname="box")
    done = runtime("exec", cid, "sh", "-c", "hostname; ps -o pid,comm; exit 7", check=False)
    assert done.returncode == 7
    lines = done.stdout.splitlines()
    assert lines[0] == "box"
    assert any(line.split() == ["1", "sleep"] for line in lines[1:])
    # A cgroup member like the init.
    pids = json.loads(runtime("ps", "--format", "json", cid).stdout)
    assert len(pids) == 1
    missing = runtime("exec", cid, "nosuchcmd", check=False)
    assert missing.returncode == 1
    assert 'exec: "nosuchcmd": executable file not found in $PATH' in missing.stderr
    runtime("delete", "--force", cid)


def test_exec_with_process_json_and_user(runtime: Runtime, tmp_path) -> None:
    cid = runtime.start_detached(["sleep", "100"])
    proc = {"args": ["sh", "-c", "id -u; pwd; echo $FOO"], "cwd": "/tmp",
            "env": ["PATH=/bin", "FOO=bar"], "user": {"uid": 1234, "gid": 1234}}
    (tmp_path / "p.json").write_text(json.dumps(proc))
    done = runtime("exec", "--process", str(tmp_path / "p.json"), cid)
    assert done.stdout.split() == ["1234", "/tmp", "bar"]
    runtime("delete", "--force", cid)


def test_exec_with_a_terminal_in_the_foreground(runtime: Runtime) -> None:
    cid = runtime.start_detached(["sleep", "100"])
    primary, secondary = os.openpty()
    proc = subprocess.Popen([RUNTIME, "--root", str(runtime.root), "exec", "-t", cid, "sh"],
                            stdin=secondary, stdout=secondary, stderr=secondary)
    os.close(secondary)
    os.write(primary, b"tty; exit 3\n")
    out = read_until(primary, b"/dev/pts/")
    assert proc.wait(timeout=10) == 3
    assert b"/dev/pts/" in out
    os.close(primary)
    runtime("delete", "--force", cid)
