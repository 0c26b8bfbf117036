"""The context: .dockerignore (docker's classic rules, `!` exceptions, applied by the CLI
and by darsed), -f with a Dockerfile elsewhere or named otherwise, `build -`. Compared
with docker's CLI and classic builder on the same folders."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from tests.build.compare import Engine, same_image
from tests.build.conftest import Dockerd
from tests.daemon import Darsed
from tests.ocilayout import tar_of_dir


@pytest.fixture(scope="module")
def engines(darsed: Darsed, dockerd: Dockerd | None):
    return Engine("darse", darsed), (Engine("docker", dockerd) if dockerd else None)


IGNORE = """\
# comments and blank lines are nothing

*.md
!README.md
**/*.log
sub
!sub/keep
/abs
build/
a/**/b
Dockerfile
.dockerignore
"""


def tree(ctx: Path) -> None:
    for path in ("README.md", "NOTES.md", "x.log", "deep/er/y.log", "deep/er/z.txt",
                 "sub/keep", "sub/drop", "abs", "build/out", "a/b", "a/1/2/b",
                 "a/1/c", "plain"):
        (ctx / path).parent.mkdir(parents=True, exist_ok=True)
        (ctx / path).write_text(path + "\n")


def listing(engine: Engine, image: str) -> list[str]:
    out = engine.ok("run", "--rm", image, "find", "/ctx")
    return sorted(out.split())


def test_dockerignore_as_docker(engines, tmp_path: Path) -> None:
    darse, docker = engines
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    tree(ctx)
    (ctx / ".dockerignore").write_text(IGNORE)
    (ctx / "Dockerfile").write_text("FROM busybox\nCOPY . /ctx/\n")
    image = same_image(darse, docker, ctx, "--no-cache")
    files = listing(darse, image["id"])
    assert "/ctx/README.md" in files and "/ctx/NOTES.md" not in files
    assert "/ctx/sub/keep" in files and "/ctx/sub/drop" not in files
    assert "/ctx/deep/er/z.txt" in files and "/ctx/deep/er/y.log" not in files
    assert "/ctx/Dockerfile" not in files and "/ctx/.dockerignore" not in files
    assert "/ctx/a/1/c" in files and "/ctx/a/1/2/b" not in files and "/ctx/a/b" not in files
    if docker is not None:
        theirs = docker.build(ctx, "--no-cache")
        assert listing(docker, theirs) == files
        docker.rmi(theirs)
    darse.rmi(image["id"])


def test_the_daemon_applies_dockerignore(darsed: Darsed, tmp_path: Path) -> None:
    """A client that sends everything (docker-py may): darsed leaves out what
    .dockerignore excludes, the Dockerfile too when it is listed."""
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    tree(ctx)
    (ctx / ".dockerignore").write_text(IGNORE)
    (ctx / "Dockerfile").write_text("FROM busybox\nCOPY . /ctx/\nRUN find /ctx | sort\n")
    status, out = darsed.api("POST", "/build?nocache=1&t=sent:all", raw=tar_of_dir(str(ctx)))
    text = "".join(json.loads(line).get("stream", "") for line in out.decode().splitlines())
    assert status == 200 and "Successfully tagged sent:all" in text, out
    assert "/ctx/README.md\n" in text and "/ctx/NOTES.md" not in text
    assert "/ctx/Dockerfile" not in text and "/ctx/sub/drop" not in text
    Engine("darse", darsed).rmi("sent:all")


def test_dockerfile_elsewhere_never_lands_in_the_context(engines, tmp_path: Path) -> None:
    """-f outside the context, in a subfolder, named otherwise: `COPY .` sees only the
    context (the CLI's own name for an outside Dockerfile is excluded)."""
    darse, docker = engines
    ctx = tmp_path / "ctx"
    (ctx / "docker").mkdir(parents=True)
    (ctx / "file").write_text("F\n")
    (ctx / "docker/Build.file").write_text("FROM busybox\nCOPY . /ctx/\n")
    outside = tmp_path / "Outside.dockerfile"
    outside.write_text("FROM busybox\nCOPY . /ctx/\n")
    for engine in filter(None, (darse, docker)):
        inner = engine.build(ctx, "--no-cache", "-f", str(ctx / "docker/Build.file"))
        assert listing(engine, inner) == ["/ctx", "/ctx/docker", "/ctx/docker/Build.file",
                                          "/ctx/file"], engine.name
        outer = engine.build(ctx, "--no-cache", "-f", str(outside))
        assert listing(engine, outer) == ["/ctx", "/ctx/docker", "/ctx/docker/Build.file",
                                          "/ctx/file"], engine.name
        engine.rmi(inner, outer)


def test_build_from_stdin(engines, tmp_path: Path) -> None:
    darse, docker = engines
    dockerfile = b"FROM busybox\nRUN echo from stdin > /s\n"
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tf:
        for name, content in (("Dockerfile", b"FROM busybox\nCOPY f /f\n"), ("f", b"F\n")):
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tf.addfile(info, io.BytesIO(content))
    for engine in filter(None, (darse, docker)):
        image = engine.ok("build", "-q", "--no-cache", "-", input=dockerfile).strip()
        assert engine.ok("run", "--rm", image, "cat", "/s") == "from stdin\n"
        context = engine.ok("build", "-q", "--no-cache", "-", input=data.getvalue()).strip()
        assert engine.ok("run", "--rm", context, "cat", "/f") == "F\n"
        engine.rmi(image, context)


def test_the_cli_sums_the_build_up(engines, tmp_path: Path) -> None:
    darse, _ = engines
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox\nENV A=sum\nRUN sleep 1\n")
    darse.ok("build", str(ctx))
    last = darse.ok("build", str(ctx)).splitlines()[-1]
    assert last.startswith("Built in ") and "3 steps, 2 from the cache" in last, last
    last = darse.ok("build", "--no-cache", str(ctx)).splitlines()[-1]
    assert "3 steps, 0 from the cache; slowest: Step 3/3 (" in last, last
