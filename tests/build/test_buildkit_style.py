"""What BuildKit taught users to expect, in darse's own builder: here-documents
(`RUN <<EOF`, `COPY <<EOF /file`), the `# syntax=` line accepted."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.build.compare import Engine
from tests.daemon import Darsed


@pytest.fixture(scope="module")
def darse(darsed: Darsed) -> Engine:
    return Engine("darse", darsed)


def test_heredocs(darse: Engine, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(
        "# syntax=docker/dockerfile:1\n"
        "FROM busybox\n"
        "ENV WHO=world\n"
        "RUN <<EOF\n"
        "echo one > /script\n"
        "echo two >> /script\n"
        "EOF\n"
        "RUN cat <<-DATA > /tabs\n"
        "\tindented $WHO\n"
        "\tDATA\n"
        "COPY <<EOF /expanded\n"
        "hello $WHO\n"
        "EOF\n"
        "COPY <<\"RAW\" /raw\n"
        "hello $WHO\n"
        "RAW\n")
    darse.ok("build", "--no-cache", "-t", "heredoc:1", str(tmp_path))
    out = darse.ok("run", "--rm", "heredoc:1", "cat", "/script", "/tabs", "/expanded", "/raw")
    assert out == "one\ntwo\nindented world\nhello world\nhello $WHO\n"
    again = darse.ok("build", "-t", "heredoc:1", str(tmp_path))
    assert again.count("Using cache") == 5
    (tmp_path / "Dockerfile").write_text((tmp_path / "Dockerfile").read_text().replace(
        "echo two", "echo three"))
    changed = darse.ok("build", "-t", "heredoc:2", str(tmp_path))
    assert changed.count("Using cache") == 1  # a changed script is another step
    darse.rmi("heredoc:1", "heredoc:2")


def test_run_mounts(darse: Engine, tmp_path: Path) -> None:
    """RUN --mount: a cache kept between builds (even --no-cache ones: it is not a
    layer), binds of the context and of a stage, tmpfs; none of it in the image."""
    (tmp_path / "f").write_text("from the context\n")
    (tmp_path / "Dockerfile").write_text(
        "FROM busybox AS stage\nRUN echo from the stage > /out\n"
        "FROM busybox\n"
        "RUN --mount=type=cache,target=/var/cache/x,id=test-cache "
        "echo run >> /var/cache/x/log && wc -l < /var/cache/x/log\n"
        "RUN --mount=type=bind,source=f,target=/m --mount=type=bind,from=stage,"
        "source=/out,target=/o cat /m /o\n"
        "RUN --mount=type=tmpfs,target=/t grep ' /t ' /proc/mounts | cut -d' ' -f3\n"
        "RUN --network=none ls /sys/class/net\n")
    first = darse.ok("build", "--no-cache", "-t", "mounts:1", str(tmp_path))
    second = darse.ok("build", "--no-cache", "-t", "mounts:1", str(tmp_path))
    assert "\n1\n" in first and "\n2\n" in second  # the cache folder stays
    assert "from the context\nfrom the stage\n" in second and "\ntmpfs\n" in second
    assert "\nlo\n" in second
    out = darse.ok("run", "--rm", "mounts:1", "sh", "-c",
                   "ls /var/cache/x /m /o 2>&1; test -e /var/cache/x/log || echo no-log")
    assert "no-log" in out and "from" not in out
    (tmp_path / "f").write_text("changed\n")
    third = darse.ok("build", "-t", "mounts:1", str(tmp_path))
    assert "\nchanged\nfrom the stage\n" in third  # the bound file's content is the step's
    darse.rmi("mounts:1")
    (tmp_path / "Dockerfile").write_text("FROM busybox\nRUN --mount=type=secret,id=x true\n")
    done = darse.run("build", str(tmp_path))
    assert done.returncode == 1 and b"type=secret" in done.stderr


def test_builder_prune_empties_the_run_caches(darsed: Darsed, darse: Engine,
                                              tmp_path: Path) -> None:
    import json

    (tmp_path / "Dockerfile").write_text(
        "FROM busybox\nRUN --mount=type=cache,target=/c,id=prune-test "
        "head -c 5000 /dev/zero >> /c/data && wc -c < /c/data\n")
    assert "\n5000\n" in darse.ok("build", "--no-cache", str(tmp_path))
    status, body = darsed.api("POST", "/build/prune")
    answer = json.loads(body)
    assert status == 200 and answer["SpaceReclaimed"] >= 5000 and answer["CachesDeleted"]
    assert "\n5000\n" in darse.ok("build", "--no-cache", str(tmp_path))  # empty again
    assert json.loads(darsed.api("POST", "/build/prune")[1])["SpaceReclaimed"] == 5000
