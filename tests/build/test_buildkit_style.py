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
