"""The classic builder's cache: the same step on the same parent is found again (COPY and
ADD by the content they copy, RUN by the build args it sees), `Using cache`, the same
image id when nothing changed, --no-cache, --cache-from; intermediate images stay (the
cache), are hidden from `images`, and go with their last child on rmi."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.build.compare import Engine
from tests.build.conftest import Dockerd
from tests.daemon import Darsed

SIX = """\
FROM busybox
ARG V=1
COPY data /data
RUN echo "v$V" > /v && ls /data > /list
ENV MODE=prod
CMD ["cat", "/v"]
"""


@pytest.fixture(scope="module")
def engines(darsed: Darsed, dockerd: Dockerd | None):
    return Engine("darse", darsed), (Engine("docker", dockerd) if dockerd else None)


def context(tmp_path: Path) -> Path:
    ctx = tmp_path / "ctx"
    (ctx / "data").mkdir(parents=True)
    (ctx / "Dockerfile").write_text(SIX)
    (ctx / "data/a").write_text("A\n")
    return ctx


def build(engine: Engine, ctx: Path, *args: str) -> tuple[str, str]:
    """(stdout, image id)."""
    out = engine.ok("build", *args, str(ctx))
    return out, out.split("Successfully built ")[1].split()[0]


def hits(out: str) -> int:
    return out.count(" ---> Using cache")


def test_cache_rules_as_docker(engines, tmp_path: Path) -> None:
    ctx = context(tmp_path)
    for engine in filter(None, engines):
        out, first = build(engine, ctx, "--no-cache")
        assert hits(out) == 0
        out, again = build(engine, ctx)
        assert hits(out) == 5 and again == first, (engine.name, out)  # nothing changed
        os.utime(ctx / "data/a", (1, 1))  # a file's time is not its content
        out, again = build(engine, ctx)
        assert hits(out) == 5 and again == first, engine.name
        out, changed_arg = build(engine, ctx, "--build-arg", "V=2")
        # ARG's own step differs no more than its default; RUN sees V=2: a miss from it.
        assert hits(out) == 2 and changed_arg != first, (engine.name, out)
        (ctx / "data/a").write_text("B\n")
        out, changed_file = build(engine, ctx)
        assert hits(out) == 1 and changed_file != first, (engine.name, out)  # ARG only
        (ctx / "data/a").write_text("A\n")
        out, back = build(engine, ctx)
        assert hits(out) == 5 and back == first, (engine.name, out)
        out, _ = build(engine, ctx, "--no-cache")
        assert hits(out) == 0
        assert engine.ok("run", "--rm", first) == "v1\n"


def test_history_parent_and_intermediate_images(engines, tmp_path: Path) -> None:
    darse, _ = engines
    ctx = context(tmp_path)
    _, image = build(darse, ctx, "--no-cache", "-t", "cached:1")
    doc = darse.inspect("cached:1")
    assert doc["Parent"].startswith("sha256:")
    parents = []
    current = darse.inspect(image)["Id"]
    while current:
        parents.append(current)
        current = darse.inspect(current)["Parent"]
    busybox = darse.inspect("busybox")["Id"]
    assert parents[-1] == busybox and len(parents) == 6  # one image a step
    listed = darse.ok("images", "-q", "--no-trunc").split()
    all_ = darse.ok("images", "-qa", "--no-trunc").split()
    assert set(parents[1:-1]) <= set(all_) and not set(parents[1:-1]) & set(listed)
    out = darse.ok("rmi", "cached:1")
    # Its untagged parents go with it (not busybox, tagged), and the layers only they had.
    deleted = [line.split()[1] for line in out.splitlines() if line.startswith("Deleted:")]
    assert deleted[:5] == parents[:5] and len(deleted) == 7, out
    assert busybox in darse.ok("images", "-qa", "--no-trunc")


def test_cache_from(engines, tmp_path: Path) -> None:
    """A --cache-from image is trusted step by step: its history must extend the parent's
    with the same steps; a build without it does not use local images, as docker."""
    darse, _ = engines
    ctx = context(tmp_path)
    dockerfile = SIX.replace("ARG V=1", "ARG V=from")  # steps no other test made
    (ctx / "Dockerfile").write_text(dockerfile)
    _, image = build(darse, ctx, "--no-cache", "-t", "source:1")
    saved = tmp_path / "saved.tar"
    saved.write_bytes(darse.run("save", "source:1").stdout)
    darse.ok("rmi", "source:1")  # the intermediates go: no local cache is left
    darse.ok("load", "-i", str(saved))
    out, _ = build(darse, ctx)
    assert hits(out) == 0  # a loaded image has no parent chain: no local cache
    out, rebuilt = build(darse, ctx, "--cache-from", "source:1")
    assert hits(out) == 5 and rebuilt == image, out
    (ctx / "Dockerfile").write_text(dockerfile.replace('CMD ["cat", "/v"]',
                                                       'CMD ["cat", "/list"]'))
    out, other = build(darse, ctx, "--cache-from", "source:1")
    assert hits(out) == 4 and other != image
    assert darse.ok("run", "--rm", other) == "a\n"
    layers = json.loads(darse.ok("image", "inspect", other))[0]["RootFS"]["Layers"]
    assert layers == darse.inspect("source:1")["RootFS"]["Layers"]
    darse.rmi("source:1", other)



def test_cache_from_of_missing_images_is_no_cache(engines, tmp_path: Path) -> None:
    """--cache-from names the only images a build may take its steps from: one that is
    not here is no cache at all, the local images' included, as docker's classic builder
    (docker-py's test_build_with_cache_from)."""
    ctx = context(tmp_path)
    (ctx / "Dockerfile").write_text(SIX.replace("ARG V=1", "ARG V=missing-source"))
    for engine in filter(None, engines):
        _, first = build(engine, ctx, "-t", "cfm:1")
        out, again = build(engine, ctx)
        assert hits(out) == 5 and again == first, (engine.name, out)
        out, _ = build(engine, ctx, "--cache-from", "cfm:1")
        assert hits(out) == 5, (engine.name, out)
        out, other = build(engine, ctx, "--cache-from", "nosuchimage:1")
        assert hits(out) == 0, (engine.name, out)
        engine.rmi("cfm:1", other)


def test_image_config_has_dockerds_fields(engines, tmp_path: Path) -> None:
    """image inspect's Config and ContainerConfig carry every field dockerd always
    writes (OnBuild null when the image has none, docker-py's
    test_build_container_with_target reads it)."""
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox\nENV A=1\n")
    shown = {}
    for engine in filter(None, engines):
        image = build(engine, ctx, "--no-cache")[1]
        doc = engine.inspect(image)
        shown[engine.name] = {key: (sorted(doc[key]), doc[key]["OnBuild"])
                              for key in ("Config", "ContainerConfig")}
        assert doc["Config"]["OnBuild"] is None and doc["Config"]["Labels"] is None
        assert "Hostname" in doc["Config"] and "Volumes" in doc["ContainerConfig"]
        engine.rmi(image)
    if "docker" in shown:
        assert shown["darse"] == shown["docker"]

def test_image_prune_takes_an_untagged_build_and_its_parents(engines, tmp_path: Path) -> None:
    darse, docker = engines
    ctx = context(tmp_path)
    (ctx / "Dockerfile").write_text(SIX.replace("ARG V=1", "ARG V=prune"))
    for engine in filter(None, (darse, docker)):
        before = set(engine.ok("images", "-qa").split())
        build(engine, ctx, "--no-cache")  # untagged: dangling once built
        assert len(set(engine.ok("images", "-qa").split()) - before) == 5, engine.name
        assert len(set(engine.ok("images", "-q").split()) - before) == 1, engine.name
        engine.ok("image", "prune", "-f")
        assert not set(engine.ok("images", "-qa").split()) - before, engine.name


def test_rmi_of_a_base_keeps_it_for_its_children(engines, tmp_path: Path) -> None:
    """An image other builds start from loses its name only, as with docker."""
    darse, docker = engines
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    for engine in filter(None, (darse, docker)):
        (ctx / "Dockerfile").write_text("FROM busybox\nRUN echo base > /base\n")
        base = build(engine, ctx, "--no-cache", "-t", "base:rmi")[1]
        (ctx / "Dockerfile").write_text("FROM base:rmi\nRUN cat /base > /app\n")
        app = build(engine, ctx, "-t", "app:rmi")[1]
        assert engine.ok("rmi", "base:rmi").strip() == "Untagged: base:rmi", engine.name
        assert base in engine.ok("images", "-qa")
        assert engine.ok("run", "--rm", app, "cat", "/app") == "base\n"
        out = engine.ok("rmi", "app:rmi")
        assert base in out, (engine.name, out)  # the base goes with its last child now
