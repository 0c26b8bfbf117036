"""What a container's process starts with, as dockerd 20.10 gives it (checked by hand):
HOSTNAME, HOME from passwd, TERM with a tty, a bare -e KEY kept in the config and out
of the environment, --group-add; and docker kill back only once the container is dead."""

from __future__ import annotations

import json

from tests.cli.test_cli import darse
from tests.daemon import Darsed

PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def ok(d: Darsed, *args: str) -> str:
    done = d.docker(*args)
    assert done.returncode == 0, f"docker {' '.join(args)}: {done.stderr}"
    return done.stdout


def test_environment_and_groups(docker: Darsed) -> None:
    out = ok(docker, "run", "--name", "e1", "-e", "Foo", "-e", "BAR=1", "--group-add", "1234",
             "--group-add", "daemon", "busybox", "sh", "-c", "env | sort; id")
    cid = ok(docker, "inspect", "-f", "{{.Id}}", "e1").strip()
    assert out.splitlines() == ["BAR=1", "HOME=/root", f"HOSTNAME={cid[:12]}", PATH, "PWD=/",
                                "SHLVL=1",
                                "uid=0(root) gid=0(root) groups=0(root),1(daemon),1234"]
    config = json.loads(ok(docker, "inspect", "e1"))[0]
    assert "Foo" in config["Config"]["Env"] and config["Config"]["Hostname"] == cid[:12]
    assert config["HostConfig"]["GroupAdd"] == ["1234", "daemon"]
    ok(docker, "rm", "e1")
    assert ok(docker, "run", "--rm", "-u", "4321", "busybox", "sh", "-c",
              "echo $HOME") == "/\n"
    assert "TERM=xterm" in ok(docker, "run", "--rm", "-t", "busybox", "env")
    assert "TERM=" not in ok(docker, "run", "--rm", "busybox", "env")
    assert ok(docker, "run", "--rm", "-e", "HOME=/x", "-h", "named", "busybox", "sh", "-c",
              "echo $HOME $HOSTNAME") == "/x named\n"
    bad = docker.docker("run", "--rm", "--group-add", "nosuchgroup", "busybox", "id")
    assert bad.returncode == 125
    assert "Unable to find group nosuchgroup: no matching entries in group file" in bad.stderr
    ok(docker, "run", "-d", "--name", "e2", "busybox", "sleep", "1000")
    try:
        env = ok(docker, "exec", "e2", "env").splitlines()
        cid = ok(docker, "inspect", "-f", "{{.Id}}", "e2").strip()
        assert env == [PATH, f"HOSTNAME={cid[:12]}", "HOME=/root"]
        assert ok(docker, "exec", "-u", "4321", "-e", "A=b", "e2", "sh", "-c",
                  "echo $HOME $A") == "/ b\n"
    finally:
        docker.docker("rm", "-f", "e2")


def test_darse_group_add(darsed: Darsed) -> None:
    done = darse(darsed, "run", "--rm", "--group-add", "daemon", "busybox", "id", "-G")
    assert (done.returncode, done.stdout) == (0, "0 1\n"), done.stderr


def test_kill_waits_for_the_end(docker: Darsed) -> None:
    ok(docker, "run", "-d", "--name", "k1", "busybox", "sleep", "1000")
    try:
        ok(docker, "pause", "k1")  # frozen: a SIGKILL alone does not end it
        ok(docker, "kill", "k1")
        assert ok(docker, "inspect", "-f", "{{.State.Status}} {{.State.Paused}} "
                  "{{.State.ExitCode}}", "k1") == "exited false 137\n"
        ok(docker, "start", "k1")
        status, _ = docker.api("POST", "/containers/k1/kill")
        assert status == 204
        status, body = docker.api("GET", "/containers/k1/json")
        assert json.loads(body)["State"]["Status"] == "exited"
    finally:
        docker.docker("rm", "-f", "k1")
