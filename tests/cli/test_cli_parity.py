"""What darse's CLI prints for everyday read commands is what the docker CLI (Debian's,
20.10) prints against the same darsed, byte for byte, the program's name aside."""

from __future__ import annotations

import re
import shlex
import time
from collections.abc import Iterator

import pytest

from tests.cli.test_cli import darse
from tests.daemon import DOCKER, Darsed


@pytest.fixture(scope="module")
def objects(darsed: Darsed) -> Iterator[None]:
    assert DOCKER is not None, "install.sh installs docker.io"
    for args in (["run", "-d", "--name", "pw", "-p", "127.0.0.1::80", "-p", "81",
                  "--restart", "on-failure:3", "--log-opt", "max-size=1m", "-v", "pv:/data",
                  "--label", "a=b", "busybox", "sleep", "1000"],
                 ["create", "--name", "pc", "--health-cmd", "true", "--expose", "90",
                  "busybox"],
                 ["network", "create", "--subnet", "10.252.7.0/24", "--label", "k=v", "pn"]):
        done = darsed.docker(*args)
        assert done.returncode == 0, done.stderr
    yield
    darsed.docker("rm", "-f", "pw", "pc")
    darsed.docker("network", "rm", "pn")
    darsed.docker("volume", "rm", "pv")


COMMANDS = [
    "top pw", "top pw -o pid,comm",
    "version --format '{{.Server.APIVersion}}'", "version --format '{{json .Server}}'",
    "version --format '{{.Server.Os}}/{{.Server.Arch}}'",
    "events --since 2000-01-01T00:00:00Z --until 1s --filter container=pc",
    "inspect pw --format '{{.Mounts}}'",
    "inspect pw --format '{{.NetworkSettings.Ports}}'",
    "inspect pw --format '{{.HostConfig.PortBindings}}'",
    "inspect pw --format '{{.HostConfig.RestartPolicy}}'",
    "inspect pw --format '{{.HostConfig.LogConfig}}'",
    "inspect pw --format '{{.HostConfig.Tmpfs}}'",
    "inspect pw --format '{{.State.Status}} {{.State.Running}} {{.State.ExitCode}}'",
    "inspect pc --format '{{.State}}'",
    "inspect pc --format '{{.Config.ExposedPorts}}'",
    "inspect pw --format '{{.Config.Healthcheck}}'",
    "inspect pc --format '{{.Config.Healthcheck.Test}} {{.Config.Healthcheck.Retries}}'",
    "inspect pw --format '{{.GraphDriver.Name}}'",
    "image inspect busybox --format '{{.RootFS.Type}} {{len .RootFS.Layers}}'",
    "image inspect busybox --format '{{.Config}}'",
    "image inspect busybox --format '{{.ID}}'",
    "network inspect pn --format '{{.IPAM}}'",
    "network inspect pn --format '{{.IPAM.Config}}'",
    "network inspect pn --format '{{.ID}}'",
    "network inspect pn --format '{{.Labels}} {{.Options}} {{.Internal}}'",
    "volume inspect pv --format '{{.Name}} {{.Driver}} {{.Labels}}'",
    "inspect pw --format '{{.HostConfig.Resources.Memory}} {{.HostConfig.Dns}}'",
    "inspect pw --format '{{range $k, $v := .NetworkSettings.Ports}}{{$k}}="
    "{{(index $v 0).HostPort}} {{end}}'",
    "inspect pw --format '{{.Config.Healthcheck.Test}}'",
    "inspect pw nosuch --format '{{.Name}} {{.Nope}}'",
    "inspect pw --format '{{.State.Health.Status}}'",
    "inspect pw --format '{{.Config.Labels.zz}} {{index .Config.Labels \"zz\"}}|'",
    "inspect pw --format '{{.Id}} {{.ID}}'", "inspect pw --format '{{json .State.Health}}'",
    "network inspect pn --format '{{.Created}}'", "network inspect pn --format '{{.Nope}}'",
    "volume inspect pv nosuch --format '{{.Name}}'",
    "version --format '{{.Client.Context}} {{.Client.Os}} {{.Client.Platform.Name}}'",
    "port pw", "port pw 80",
    "ps -a --format '{{.Names}} {{.Ports}}'",
]


def normalised(text: str) -> str:
    return text.replace("docker:", "darse:").replace("'docker ", "'darse ")


@pytest.mark.parametrize("command", COMMANDS)
def test_same_output_as_the_docker_cli(darsed: Darsed, objects: None, command: str) -> None:
    args = shlex.split(command)
    # `docker port` (20.10) walks a Go map: its ports come in any order
    order = sorted if args[0] == "port" else list
    for _ in range(3):  # `top`'s C column and ages move: the same second, twice
        theirs = darsed.docker(*args)
        mine = darse(darsed, *args)
        if (mine.returncode, order(mine.stdout.splitlines()), normalised(mine.stderr)) == \
                (theirs.returncode, order(theirs.stdout.splitlines()),
                 normalised(theirs.stderr)):
            return
        time.sleep(0.2)
    diff = [(a, b) for a, b in zip(theirs.stdout.splitlines(), mine.stdout.splitlines(),
                                   strict=False) if a != b]
    raise AssertionError(f"docker: {theirs.stdout!r} {theirs.stderr!r}\n"
                         f"darse:  {mine.stdout!r} {mine.stderr!r}\n{diff}")


def test_version_layout(darsed: Darsed) -> None:
    """docker version's layout; the client block is darse's own."""
    out = darse(darsed, "version").stdout
    server = darsed.docker("version").stdout.partition("\nServer:")[2]
    assert out.partition("\nServer:")[2] == server
    assert re.match(r"Client:\n Version: +\S+\n API version: +1\.\d+\n Go version: ", out)


def test_ephemeral_ports_never_collide(darsed: Darsed) -> None:
    """Host ports chosen by darse for -p PORT, -p IP::PORT and -P are free ones: none that
    another container published (no socket holds them: they are the kernel's DNAT), none
    twice for one container."""
    names = ["ep1", "ep2", "ep3"]
    try:
        for name in names:
            done = darse(darsed, "run", "-d", "--name", name, "-p", "127.0.0.1::80", "-p", "81",
                         "--expose", "82", "-P", "busybox", "sleep", "100")
            assert done.returncode == 0, done.stderr
        given: dict[tuple[str, str], set[str]] = {}  # (container, its port) -> host ports
        for name in names:
            for line in darse(darsed, "port", name).stdout.splitlines():
                private, _, public = line.partition(" -> ")
                given.setdefault((name, private), set()).add(public.rsplit(":", 1)[1])
        # one host port per container port (on IPv4 and IPv6 alike), none given twice
        assert len(given) == 9 and all(len(v) == 1 for v in given.values()), given
        assert len({p for v in given.values() for p in v}) == 9, given
    finally:
        darse(darsed, "rm", "-f", *names)


def test_events_as_dockerd_gives_them(darsed: Darsed) -> None:
    """Container events carry the container's labels, an attach is an event, volumes have
    create and destroy events, and the filters select as dockerd's (type, label, volume,
    network, image, event, scope)."""
    time.sleep(1.1)  # --since is in whole seconds: nothing of what came before
    since = str(int(time.time()))
    for args in (["run", "--name", "evc", "--label", "team=a", "busybox", "true"],
                 ["volume", "create", "evvol"], ["network", "create", "evnet"],
                 ["network", "rm", "evnet"], ["volume", "rm", "evvol"], ["rm", "evc"]):
        done = darsed.docker(*args)
        assert done.returncode == 0, done.stderr
    time.sleep(1.1)  # --until 0s is now in whole seconds (both CLIs): the last one in

    def actions(*filters: str, who: str = "{{.Actor.Attributes.name}}") -> list[str]:
        args = [x for f in filters for x in ("--filter", f)]
        out = set()
        for tool in (darsed.docker, lambda *a: darse(darsed, *a)):
            done = tool("events", "--since", since, "--until", "0s", *args, "--format",
                        "{{.Type}} {{.Action}} " + who)
            assert done.returncode == 0, done.stderr
            out.add(done.stdout)
        assert len(out) == 1, out  # both CLIs print the same
        return out.pop().splitlines()

    assert actions("label=team=a") == [f"container {a} evc" for a in
                                       ("create", "attach", "start", "die", "destroy")]
    # a volume's event names it by its id alone (Attributes: driver)
    volume = ["volume create evvol local", "volume destroy evvol local"]
    assert actions("type=volume", who="{{.Actor.ID}} {{.Actor.Attributes.driver}}") == volume
    assert actions("volume=evvol", who="{{.Actor.ID}} {{.Actor.Attributes.driver}}") == volume
    assert actions("network=evnet") == ["network create evnet", "network destroy evnet"]
    assert actions("event=create", "scope=local", "type=network") == [
        "network create evnet"]
    assert actions("type=bogus") == []
    assert "container create evc" in actions("image=busybox")
    done = darse(darsed, "events", "--since", since, "--until", "0s", "--filter",
                 "container=evc", "--filter", "event=create", "--format", "{{.}}")
    fields = done.stdout.split()
    assert fields[0] == "{create" and fields[2] == "busybox" and fields[3] == "container"
