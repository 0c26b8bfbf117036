"""`ps --filter` as dockerd 20.10 answers it: a bad filter refused in its words with no
container at all as with some, and before=, since=, network=, volume=, is-task= keeping
what dockerd keeps (they were accepted and ignored), through the docker and darse CLIs."""

from __future__ import annotations

import pytest

from tests.cli.test_cli import darse
from tests.daemon import Darsed

BAD = [("foo=bar", "Invalid filter 'foo'"), ("status=bogus", "Invalid filter 'status=bogus'"),
       ("exited=x", 'strconv.Atoi: parsing "x": invalid syntax'),
       ("is-task=maybe", "Invalid filter 'is-task=[maybe]'"),
       ("health=bogus", "Unrecognised filter value for health: bogus"),
       ("since=nosuch", "no such container nosuch"),
       ("before=nosuch", "no such container nosuch")]


@pytest.mark.parametrize("cli", ["docker", "darse"])
def test_ps_filters(docker: Darsed, cli: str) -> None:
    def run(*args: str) -> tuple[int, str, str]:
        done = docker.docker(*args) if cli == "docker" else darse(docker, *args)
        return done.returncode, done.stdout, done.stderr

    def names(*filters: str, all: bool = False) -> list[str]:
        args = [a for f in filters for a in ("--filter", f)]
        code, out, err = run("ps", *(["-a"] if all else []), *args, "--format", "{{.Names}}")
        assert code == 0, err
        return out.split()

    assert run("ps", "-aq") == (0, "", "")
    for containers in ("none", "some"):
        for flt, message in BAD:
            assert run("ps", "-a", "--filter", flt) == (
                1, "", f"Error response from daemon: {message}\n"), (containers, flt)
        if containers == "none":
            for args in (["run", "-d", "--name", "f1", "--network", "none", "-v",
                          "fvol:/data", "busybox", "sleep", "1000"],
                         ["run", "-d", "--name", "f2", "busybox", "sleep", "1000"],
                         ["run", "--name", "f3", "--network", "none", "busybox", "true"],
                         ["create", "--name", "f4", "--network", "none", "busybox"]):
                assert run(*args)[0] == 0, args
    try:
        assert names() == ["f2", "f1"] and names(all=True) == ["f4", "f3", "f2", "f1"]
        assert names("since=f1") == ["f2"]
        assert names("since=f1", all=True) == ["f4", "f3", "f2"]
        assert names("before=f3", all=True) == ["f2", "f1"]
        assert names("before=f4", "since=f1", all=True) == ["f3", "f2"]
        assert names("network=none", all=True) == ["f4", "f3", "f1"]
        assert names("network=bridge") == ["f2"]
        assert names("volume=fvol", all=True) == names("volume=/data", all=True) == ["f1"]
        assert names("is-task=true", all=True) == []
        assert names("is-task=false", all=True) == ["f4", "f3", "f2", "f1"]
        assert names("exited=0", all=True) == ["f3"]
        assert names("status=created", "name=f", all=True) == ["f4"]
    finally:
        docker.docker("rm", "-f", "f1", "f2", "f3", "f4")
        docker.docker("volume", "rm", "fvol")
