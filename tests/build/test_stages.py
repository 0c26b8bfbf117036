"""Multi-stage builds: FROM ... AS, COPY --from a stage (by name or index) or an image,
--target, ARG before FROM, and only the stages the target needs are built."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.build.compare import Engine, same_image
from tests.build.conftest import Dockerd
from tests.daemon import Darsed


@pytest.fixture(scope="module")
def engines(darsed: Darsed, dockerd: Dockerd | None) -> Iterator[tuple[Engine, Engine | None]]:
    yield Engine("darse", darsed), (Engine("docker", dockerd) if dockerd else None)


def ctx_with(tmp_path: Path, dockerfile: str, **files: str) -> Path:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(dockerfile)
    for name, text in files.items():
        (ctx / name).write_text(text)
    return ctx


MULTI = """\
ARG BASE=busybox
ARG GREETING=hello
FROM $BASE AS builder
ARG GREETING
RUN echo "$GREETING from builder" > /out && mkdir -p /dist && echo one > /dist/1
FROM ${BASE} AS unused
RUN echo never > /never && exit 7
FROM busybox
COPY --from=builder /out /copied
COPY --from=0 /dist/ /dist/
COPY --from=busybox /etc/group /group
CMD ["cat", "/copied"]
"""


def test_the_issue_reproduction(engines, tmp_path: Path) -> None:
    darse, docker = engines
    ctx = ctx_with(tmp_path, "FROM busybox AS a\nRUN echo hi > /x\nFROM busybox\n"
                   "COPY --from=a /x /y\n")
    image = same_image(darse, docker, ctx)
    assert darse.ok("run", "--rm", image["id"], "cat", "/y") == "hi\n"
    darse.rmi(image["id"])


def test_stages_args_and_what_the_target_needs(engines, tmp_path: Path) -> None:
    darse, _ = engines
    ctx = ctx_with(tmp_path, MULTI)
    out = darse.ok("build", "--no-cache", "-t", "multi:1", str(ctx))
    # The stage `unused` (whose RUN fails) is not built: the target does not need it.
    assert "exit 7" not in out and "Step 1/10 : ARG BASE=busybox" in out, out
    assert darse.ok("run", "--rm", "multi:1") == "hello from builder\n"
    assert darse.ok("run", "--rm", "multi:1", "cat", "/dist/1", "/group").startswith("one\nroot:")
    out = darse.ok("build", "--build-arg", "GREETING=bye", "-t", "multi:2", str(ctx))
    assert darse.ok("run", "--rm", "multi:2") == "bye from builder\n"
    # --target: the stage and what it needs; here it fails as its RUN does.
    done = darse.run("build", "--target", "unused", str(ctx))
    assert done.returncode == 7 and b"returned a non-zero code: 7" in done.stderr
    out = darse.ok("build", "--target", "builder", "-t", "multi:builder", str(ctx))
    assert "Step 5/5" in out and "copied" not in out
    assert darse.ok("run", "--rm", "multi:builder", "cat", "/out") == "hello from builder\n"
    darse.rmi("multi:1", "multi:2", "multi:builder")


def test_multi_stage_image_is_docker_s(engines, tmp_path: Path) -> None:
    darse, docker = engines
    ctx = ctx_with(tmp_path, MULTI.replace("FROM ${BASE} AS unused\nRUN echo never > "
                                           "/never && exit 7\n", ""))
    image = same_image(darse, docker, ctx)
    assert image["layers"] == 4  # busybox's and three COPY
    darse.rmi(image["id"])


@pytest.mark.parametrize("dockerfile,message", [
    ("FROM busybox AS 1a\n", "invalid name for build stage: \"1a\", name can't start with a "
                             "number or contain symbols"),
    ("FROM\n", "FROM requires either one or three arguments"),
    ("FROM busybox AS\n", "FROM requires either one or three arguments"),
    ("FROM busybox\nARG =x\n", "ARG names can not be blank"),
    ("FROM busybox\nCOPY --foo=1 a /b\n", "Unknown flag: foo"),
    ("FROM busybox\nHEALTHCHECK --foo=1 CMD true\n", "Unknown flag: foo"),
])
def test_malformed_dockerfiles_fail_before_any_work(engines, tmp_path: Path,
                                                    dockerfile: str, message: str) -> None:
    darse, docker = engines
    ctx = ctx_with(tmp_path, dockerfile)
    done = darse.run("build", str(ctx))
    assert done.returncode == 1 and message in done.stderr.decode(), done.stderr
    assert b"Step 1" not in done.stdout  # answered before the stream starts
    if docker is not None:
        assert message in docker.run("build", str(ctx)).stderr.decode()


def test_unknown_target(engines, tmp_path: Path) -> None:
    darse, docker = engines
    ctx = ctx_with(tmp_path, "FROM busybox AS a\n")
    for engine in filter(None, (darse, docker)):
        done = engine.run("build", "--target", "nope", str(ctx))
        assert done.returncode == 1
        assert b"failed to reach build target nope in Dockerfile" in done.stderr
