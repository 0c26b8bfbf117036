"""The seed's first chapter, typed into the real docker CLI pointed at darsed."""

from __future__ import annotations

import json
import os
import pty
import time

from tests.daemon import DOCKER, Darsed
from tests.terminal import read_until


def ok(d: Darsed, *args: str, input: str | None = None) -> str:
    done = d.docker(*args, input=input)
    assert done.returncode == 0, f"docker {' '.join(args)}: {done.stderr}"
    return done.stdout


def test_run_detached_stop_start_rm(docker: Darsed) -> None:
    cid = ok(docker, "run", "-d", "--name", "c1", "busybox", "sleep", "1000").strip()
    assert len(cid) == 64
    ps = ok(docker, "ps").splitlines()
    assert ps[0].split() == ["CONTAINER", "ID", "IMAGE", "COMMAND", "CREATED", "STATUS",
                             "PORTS", "NAMES"]
    assert ps[1].startswith(cid[:12]) and ps[1].endswith("c1") and "Up " in ps[1]
    assert ok(docker, "stop", "-t", "1", "c1").strip() == "c1"
    assert ok(docker, "ps", "-q") == ""
    assert "Exited (137)" in ok(docker, "ps", "-a")
    assert ok(docker, "start", "c1").strip() == "c1"
    assert ok(docker, "ps", "-q").strip() == cid[:12]
    assert ok(docker, "rm", "-f", "c1").strip() == "c1"
    assert ok(docker, "ps", "-a", "-q") == ""


def test_run_foreground_rm_hostname_dns(docker: Darsed) -> None:
    out = ok(docker, "run", "--rm", "--name", "c1", "--hostname", "host1", "--dns", "8.8.8.8",
             "busybox", "sh", "-c", "hostname; cat /etc/resolv.conf; echo err >&2")
    assert out.splitlines() == ["host1", "nameserver 8.8.8.8"]
    assert ok(docker, "ps", "-a", "-q") == ""  # --rm removed it


def test_exit_codes_and_errors(docker: Darsed) -> None:
    assert docker.docker("run", "--rm", "busybox", "sh", "-c", "exit 42").returncode == 42
    missing = docker.docker("run", "--rm", "busybox", "nosuchcommand")
    assert missing.returncode == 127
    assert 'exec: "nosuchcommand": executable file not found in $PATH' in missing.stderr
    ok(docker, "run", "-d", "--name", "dup", "busybox", "sleep", "100")
    dup = docker.docker("run", "-d", "--name", "dup", "busybox", "true")
    assert dup.returncode == 125
    assert 'Conflict. The container name "/dup" is already in use' in dup.stderr
    bad = docker.docker("run", "--name", "bad name", "busybox", "true")
    assert bad.returncode == 125 and "Invalid container name (bad name)" in bad.stderr
    ok(docker, "rm", "-f", "dup")
    gone = docker.docker("stop", "nosuch")
    assert gone.returncode == 1 and "No such container: nosuch" in gone.stderr
    assert ok(docker, "ps", "-a", "-q") == ""


def test_ps_q_and_rm_of_many(docker: Darsed) -> None:
    for _ in range(3):
        ok(docker, "run", "-d", "busybox", "sleep", "100")
    ok(docker, "run", "busybox", "true")
    running = ok(docker, "ps", "-q").split()
    assert len(running) == 3 and len(ok(docker, "ps", "-qa").split()) == 4
    ok(docker, "rm", "-f", *running)
    ok(docker, "container", "prune", "-f")
    assert ok(docker, "ps", "-qa") == ""


def test_exec_logs_inspect(docker: Darsed) -> None:
    ok(docker, "run", "-d", "--name", "c1", "busybox", "sh", "-c",
       "echo started; sleep 1000")
    assert ok(docker, "exec", "c1", "sh", "-c", "echo $$; hostname").split()[0] != "1"
    assert docker.docker("exec", "c1", "sh", "-c", "exit 3").returncode == 3
    assert ok(docker, "exec", "-i", "c1", "cat", input="piped\n") == "piped\n"
    time.sleep(0.2)
    assert ok(docker, "logs", "c1") == "started\n"
    info = json.loads(ok(docker, "inspect", "c1"))[0]
    assert info["Name"] == "/c1" and info["State"]["Running"] is True
    assert ok(docker, "inspect", "--format", "{{.State.Status}} {{.Config.Image}}",
              "c1").strip() == "running busybox"
    ok(docker, "rm", "-f", "c1")


def test_run_ti_through_a_terminal(docker: Darsed) -> None:
    pid, fd = pty.fork()
    if pid == 0:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
        os.execve(DOCKER, [DOCKER, "-H", docker.host, "run", "-ti", "--rm", "--hostname",
                           "host1", "busybox", "sh"], env)
    import fcntl
    import struct
    import termios

    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 90, 0, 0))
    out = read_until(fd, b"# ", 20)
    os.write(fd, b"hostname; stty size; tty; exit 7\r")
    out += read_until(fd, None, 20)
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 7
    assert b"host1\r\n30 90\r\n/dev/pts/0" in out


def test_images_and_version(docker: Darsed) -> None:
    images = ok(docker, "images").splitlines()
    assert images[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    assert images[1].startswith("busybox ") and " latest " in images[1]
    version = ok(docker, "version", "--format", "{{.Server.APIVersion}}").strip()
    assert version == "1.47"
