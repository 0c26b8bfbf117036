"""network create's other flags (--attachable, --ipam-opt, --ipam-driver, --scope,
--ingress, --config-only) and network ls's filters, through the docker CLI and darse's:
dockerd 20.10's answers on a node outside a swarm, nothing made when refused."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.cli.test_cli import darse
from tests.daemon import Darsed

REFUSED = [
    (["--ipam-driver", "nope"], 'Error response from daemon: plugin "nope" not found'),
    (["--scope", "global"], "Error response from daemon: This node is not a swarm manager. "
     'Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try '
     "again."),
    (["--scope", "swarm"], "Error response from daemon: cannot create a swarm scoped network "
     "when swarm is not active"),
    (["--ingress"], "Error response from daemon: Ingress network can only be global scope "
     "network"),
    (["--config-only"], "Error response from daemon: config-only networks (--config-only, "
     "--config-from) are not supported by darse"),
]


def names(d: Darsed) -> list[str]:
    return d.docker("network", "ls", "--format", "{{.Name}}").stdout.split()


@pytest.mark.parametrize("flags,message", REFUSED, ids=[" ".join(f) for f, _ in REFUSED])
def test_refused_and_nothing_made(docker: Darsed, flags: list[str], message: str) -> None:
    before = names(docker)
    for tool in (docker.docker, lambda *a: darse(docker, *a)):
        done = tool("network", "create", *flags, "refusednet")
        assert (done.returncode, done.stdout, done.stderr) == (1, "", message + "\n")
    assert names(docker) == before


def test_attachable_and_ipam_options_kept(docker: Darsed) -> None:
    done = darse(docker, "network", "create", "--subnet", "10.253.9.0/24", "--attachable",
                 "--ipam-opt", "foo=bar", "--ipam-driver", "default", "attnet")
    assert done.returncode == 0, done.stderr
    try:
        out = docker.docker("network", "inspect", "attnet", "-f",
                            "{{.Attachable}} {{json .IPAM.Options}} {{.IPAM.Driver}}").stdout
        assert out == 'true {"foo":"bar"} default\n'
    finally:
        docker.docker("network", "rm", "attnet")


def test_ls_filters(docker: Darsed) -> None:
    assert docker.docker("network", "create", "--label", "k=v", "lsnet1").returncode == 0
    assert docker.docker("network", "create", "--label", "k=w", "lsnet2").returncode == 0
    docker.docker("run", "-d", "--name", "lsc", "--network", "lsnet2", "busybox", "sleep", "60")
    try:
        for tool in (docker.docker, lambda *a: darse(docker, *a)):
            def ls(*filters: str, tool: Callable[..., Any] = tool) -> list[str]:
                args = [x for f in filters for x in ("--filter", f)]
                done = tool("network", "ls", *args, "--format", "{{.Name}}")
                assert done.returncode == 0, done.stderr
                return done.stdout.split()

            assert ls("label=k=v") == ["lsnet1"]
            assert ls("label=k") == ["lsnet1", "lsnet2"]
            assert ls("dangling=true") == ["lsnet1"]
            assert "lsnet2" in ls("dangling=false") and "lsnet1" not in ls("dangling=0")
            assert ls("type=builtin") == ["bridge", "host", "none"]
            assert "lsnet1" in ls("scope=local") and ls("scope=swarm") == []
            for bad, message in (("foo=bar", "Invalid filter 'foo'"),
                                 ("type=foo", "invalid filter: 'type'='foo'"),
                                 ("dangling=x", "invalid value for filter 'dangling', must be "
                                                '"true" (or "1"), or "false" (or "0")')):
                done = tool("network", "ls", "--filter", bad)
                assert done.returncode == 1
                assert done.stderr == f"Error response from daemon: {message}\n"
    finally:
        docker.docker("rm", "-f", "lsc")
        docker.docker("network", "rm", "lsnet1", "lsnet2")
