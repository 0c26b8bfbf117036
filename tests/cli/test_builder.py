"""docker build's limits on RUN (--memory, --ulimit, --cpu-shares, --isolation) and
docker builder prune, through the docker CLI and darse's."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli.test_cli import darse
from tests.daemon import Darsed

LIMITS = ("FROM busybox\nRUN cat /sys/fs/cgroup/memory.max 2>/dev/null || "
          "cat /sys/fs/cgroup/memory/memory.limit_in_bytes; ulimit -n; "
          "cat /sys/fs/cgroup/cpu.weight 2>/dev/null || cat /sys/fs/cgroup/cpu/cpu.shares\n")


def tools(d: Darsed) -> list[Callable[..., object]]:
    """docker 20.10's CLI builds with the classic builder unless asked otherwise."""
    return [d.docker, lambda *a: darse(d, *a)]


@pytest.fixture
def context(tmp_path: Path) -> Path:
    (tmp_path / "Dockerfile").write_text(LIMITS)
    return tmp_path


def test_build_limits_reach_every_run(darsed: Darsed, context: Path) -> None:
    for tool in tools(darsed):
        done = tool("build", "--no-cache", "-m", "64m", "--ulimit", "nofile=123:123",
                    "--cpu-shares", "512", str(context))
        assert done.returncode == 0, done.stderr
        lines = done.stdout.splitlines()  # (text mode: docker's "\r\r\n" is two ends)
        assert lines[:2] == ["Sending build context to Docker daemon  2.048kB", ""]
        step = lines.index(next(line for line in lines if line.startswith(" ---> Running")))
        assert lines[step + 1:step + 3] == ["67108864", "123"]
        assert lines[step + 3] in ("512", "20")  # cgroup v1 shares, or v2's weight of 512


def test_build_refusals(darsed: Darsed, context: Path) -> None:
    for tool in tools(darsed):
        done = tool("build", "--isolation", "hyperv", str(context))
        assert done.returncode == 1
        assert done.stderr.endswith("Error response from daemon: Invalid isolation: "
                                    "\"hyperv\" - Linux only supports 'default'\n")
        done = tool("build", "-m", "foo", str(context))
        assert done.returncode == 125
        assert done.stderr.startswith('invalid argument "foo" for "-m, --memory" flag: '
                                      "invalid size: 'foo'\n")


def test_builder_prune(darsed: Darsed, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(
        "# syntax=docker/dockerfile:1\nFROM busybox\n"
        "RUN --mount=type=cache,target=/c,id=prunecache dd if=/dev/zero of=/c/f bs=1k "
        "count=64 2>/dev/null\n")
    done = darse(darsed, "build", "-q", str(tmp_path))
    assert done.returncode == 0, done.stderr
    for tool in tools(darsed):
        for bad, message in (("foo=bar", "Invalid filter 'foo'"),
                             ("until=bogus", "\"until\" filter expects a duration (e.g., "
                                             "'24h'): time: invalid duration \"bogus\"")):
            done = tool("builder", "prune", "-f", "--filter", bad)
            assert (done.returncode, done.stderr) == (
                1, f"Error response from daemon: failed to prune build cache: {message}\n")
        done = tool("builder", "prune", "-f", "--filter", "until=1h")
        assert done.stdout == "Total reclaimed space: 0B\n"  # used a moment ago: kept
    done = darse(darsed, "builder", "prune", "-af")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "Deleted build cache objects:" and len(lines) == 4
    assert lines[-1] == "Total reclaimed space: 65.54kB"
    assert darse(darsed, "builder", "prune", "-f").stdout == "Total reclaimed space: 0B\n"
