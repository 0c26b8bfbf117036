"""container/image/network/volume prune with --filter (until, label, label!), through the
docker CLI and darse's own, as dockerd 20.10 prunes and refuses."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from tests.cli.test_cli import darse
from tests.daemon import Darsed


def ok(d: Darsed, *args: str) -> str:
    done = d.docker(*args)
    assert done.returncode == 0, f"docker {' '.join(args)}: {done.stderr}"
    return done.stdout


def names(d: Darsed) -> set[str]:
    return set(ok(d, "ps", "-a", "--format", "{{.Names}}").split())


def test_container_prune_by_label(docker: Darsed) -> None:
    for name, label in (("pa", "x=1"), ("pb", "x=2"), ("pc", "y=1")):
        ok(docker, "create", "--name", name, "--label", label, "busybox")
    ok(docker, "run", "-d", "--name", "pup", "--label", "x=1", "busybox", "sleep", "100")
    try:
        out = ok(docker, "container", "prune", "-f", "--filter", "label=x=1")
        assert "Deleted Containers:" in out
        assert names(docker) == {"pb", "pc", "pup"}  # a running one is never pruned
        done = darse(docker, "container", "prune", "-f", "--filter", "label!=x")
        assert done.returncode == 0, done.stderr
        assert names(docker) == {"pb", "pup"}
        ok(docker, "container", "prune", "-f", "--filter", "label=x")
        assert names(docker) == {"pup"}
    finally:
        docker.docker("rm", "-f", "pa", "pb", "pc", "pup")


def test_container_prune_until(docker: Darsed) -> None:
    ok(docker, "create", "--name", "old1", "busybox")
    try:
        ok(docker, "container", "prune", "-f", "--filter", "until=1h")
        assert "old1" in names(docker)  # made a moment ago: not before an hour ago
        ok(docker, "container", "prune", "-f", "--filter", "until=2000-01-01T00:00:00Z")
        assert "old1" in names(docker)
        done = darse(docker, "container", "prune", "-f", "--filter", "until=0s")
        assert done.returncode == 0, done.stderr
        assert "old1" not in names(docker)
    finally:
        docker.docker("rm", "-f", "old1")


@pytest.mark.parametrize("kind", ["container", "image", "network", "volume"])
def test_bad_filters_refused_and_nothing_removed(docker: Darsed, kind: str) -> None:
    ok(docker, "create", "--name", "keep1", "busybox")
    ok(docker, "network", "create", "keepnet")
    ok(docker, "volume", "create", "keepvol")
    try:
        for tool in (docker.docker, lambda *a: darse(docker, *a)):
            done = tool(kind, "prune", "-f", "--filter", "foo=bar")
            assert done.returncode != 0
            assert "Invalid filter 'foo'" in done.stderr
            done = tool(kind, "prune", "-f", "--filter", "until=bogus")
            assert done.returncode != 0
            expected = ("Invalid filter 'until'" if kind == "volume" else
                        'failed to parse value as time or duration: "bogus"')
            assert expected in done.stderr
        assert "keep1" in names(docker)
        assert "keepnet" in ok(docker, "network", "ls", "--format", "{{.Name}}").split()
        assert "keepvol" in ok(docker, "volume", "ls", "-q").split()
    finally:
        docker.docker("rm", "-f", "keep1")
        docker.docker("network", "rm", "keepnet")
        docker.docker("volume", "rm", "keepvol")


def test_network_and_volume_prune_by_label(docker: Darsed) -> None:
    ok(docker, "network", "create", "--label", "team=a", "neta")
    ok(docker, "network", "create", "--label", "team=b", "netb")
    ok(docker, "volume", "create", "--label", "team=a", "vola")
    ok(docker, "volume", "create", "--label", "team=b", "volb")
    try:
        out = ok(docker, "network", "prune", "-f", "--filter", "label=team=a")
        assert "neta" in out
        nets = ok(docker, "network", "ls", "--format", "{{.Name}}").split()
        assert "neta" not in nets and "netb" in nets
        done = darse(docker, "volume", "prune", "-af", "--filter", "label!=team=b")
        assert done.returncode == 0, done.stderr
        vols = ok(docker, "volume", "ls", "-q").split()
        assert "vola" not in vols and "volb" in vols
        status, body = docker.api("POST", "/volumes/prune?filters=" + quote(json.dumps(
            {"label": ["team=b"]})))
        assert status == 200  # named volumes stay without all=true (API 1.42+)
        assert "volb" in ok(docker, "volume", "ls", "-q").split()
    finally:
        docker.docker("network", "rm", "neta", "netb")
        docker.docker("volume", "rm", "vola", "volb")


def test_image_prune_by_label(docker: Darsed) -> None:
    ok(docker, "commit", "--change", "LABEL keep=no", ok(docker, "create", "busybox").strip(),
       "prunable:1")
    ok(docker, "commit", "--change", "LABEL keep=yes", ok(docker, "create", "busybox").strip(),
       "prunable:2")
    try:
        docker.docker("container", "prune", "-f")
        out = ok(docker, "image", "prune", "-af", "--filter", "label=keep=no")
        assert "untagged: prunable:1" in out
        images = ok(docker, "images", "--format", "{{.Repository}}:{{.Tag}}").split()
        assert "prunable:1" not in images and "prunable:2" in images
        assert "busybox:latest" in images
    finally:
        docker.docker("rmi", "prunable:1", "prunable:2")
