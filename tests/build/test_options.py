"""Build options through the CLI and the API: --network (none, host, a user network),
--add-host, --shm-size, --label, --rm/--force-rm, --pull, -q, --squash refused as docker
refuses it, --platform."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.build.compare import Engine
from tests.build.conftest import Dockerd
from tests.daemon import Darsed


@pytest.fixture(scope="module")
def engines(darsed: Darsed, dockerd: Dockerd | None):
    return Engine("darse", darsed), (Engine("docker", dockerd) if dockerd else None)


def ctx_with(tmp_path: Path, dockerfile: str) -> Path:
    ctx = tmp_path / "ctx"
    ctx.mkdir(exist_ok=True)
    (ctx / "Dockerfile").write_text(dockerfile)
    return ctx


def test_network_modes_hosts_and_shm(engines, tmp_path: Path) -> None:
    darse, _ = engines
    ctx = ctx_with(tmp_path, "FROM busybox\nRUN ls /sys/class/net | sort | tr '\\n' ' '; "
                   "echo; grep -c . /etc/hosts; grep somehost /etc/hosts; "
                   "df -k /dev/shm | tail -1\n")
    out = darse.ok("build", "--no-cache", "--network", "none", str(ctx))
    assert "\nlo \n" in out
    out = darse.ok("build", "--no-cache", str(ctx))
    assert "\neth0 lo \n" in out  # the default bridge
    host = " ".join(sorted(os.listdir("/sys/class/net"))) + " "
    out = darse.ok("build", "--no-cache", "--network", "host", str(ctx))
    assert f"\n{host}\n" in out
    name = f"buildnet{os.getpid()}"
    darse.ok("network", "create", name)
    try:
        out = darse.ok("build", "--no-cache", "--network", name, "--add-host",
                       "somehost:10.1.2.3", "--shm-size", "96m", str(ctx))
        assert "\neth0 lo \n" in out and "10.1.2.3\tsomehost" in out
        assert " 98304 " in out  # 96 MiB of /dev/shm, in KiB
    finally:
        darse.ok("network", "rm", name)
    done = darse.run("build", "--no-cache", "--network", "nosuchnet", str(ctx))
    assert done.returncode != 0 and b"nosuchnet" in done.stderr


def test_labels_rm_force_rm_and_quiet(engines, tmp_path: Path) -> None:
    darse, docker = engines
    ctx = ctx_with(tmp_path, "FROM busybox\nRUN echo a\n")
    for engine in filter(None, (darse, docker)):
        out = engine.ok("build", "--no-cache", "--label", "b=2", "--label", "a=x y", str(ctx))
        assert "Step 3/4 : LABEL a=x y\n" in out and "Step 4/4 : LABEL b=2\n" in out
        image = out.split("Successfully built ")[1].split()[0]
        assert engine.inspect(image)["Config"]["Labels"] == {"a": "x y", "b": "2"}
        quiet = engine.ok("build", "-q", "--label", "b=2", "--label", "a=x y", str(ctx))
        assert quiet.startswith("sha256:" + engine.inspect(image)["Id"][7:]), engine.name
        before = set(engine.ok("ps", "-aq").split())
        engine.ok("build", "--no-cache", "--rm=false", str(ctx))
        kept = set(engine.ok("ps", "-aq").split()) - before
        assert len(kept) == 1, engine.name  # --rm=false: the RUN's container stays
        (ctx / "Dockerfile").write_text("FROM busybox\nRUN exit 4\n")
        assert engine.run("build", str(ctx)).returncode == 4
        failed = set(engine.ok("ps", "-aq").split()) - before - kept
        assert len(failed) == 1, engine.name  # a failed RUN's container stays (docker)
        assert engine.run("build", "--force-rm", str(ctx)).returncode == 4
        assert set(engine.ok("ps", "-aq").split()) - before - kept == failed
        engine.run("rm", "-f", *kept, *failed)
        (ctx / "Dockerfile").write_text("FROM busybox\nRUN echo a\n")


def test_squash_and_platform(engines, tmp_path: Path) -> None:
    darse, docker = engines
    ctx = ctx_with(tmp_path, "FROM busybox\nRUN echo a\n")
    done = darse.run("build", "--squash", str(ctx))
    assert done.returncode == 1
    assert b"squash is only supported with experimental mode" in done.stderr
    if docker is not None:
        assert b"experimental" in docker.run("build", "--squash", str(ctx)).stderr
    darse.ok("build", "--platform", "linux/amd64", str(ctx))
    done = darse.run("build", "--platform", "plan9/amd64", str(ctx))
    assert done.returncode == 1 and b"plan9" in done.stderr


def test_pull_gets_the_registry_s_newer_image(engines, tmp_path: Path,
                                              busybox_in_registry: str) -> None:
    darse, _ = engines
    ref = busybox_in_registry.replace(":latest", ":pulltest")
    ctx = ctx_with(tmp_path, "FROM busybox\nRUN echo newer > /marker\n")
    newer = darse.build(ctx, "-t", ref)
    darse.ok("push", ref)
    darse.ok("rmi", ref)
    (ctx / "Dockerfile").write_text(f"FROM {ref}\nRUN cat /marker 2>/dev/null || echo none\n")
    out = darse.ok("build", "--no-cache", str(ctx))  # not here: pulled
    assert "\nnewer\n" in out
    darse.ok("tag", "busybox", ref)  # here, older than the registry's
    assert "\nnone\n" in darse.ok("build", "--no-cache", str(ctx))
    out = darse.ok("build", "--no-cache", "--pull", str(ctx))
    assert "\nnewer\n" in out
    assert json.loads(darse.ok("image", "inspect", ref))[0]["Id"].startswith("sha256:")
    darse.rmi(ref, newer)
