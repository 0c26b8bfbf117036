"""A build stays inside its image and its context (security issue, items 1 and 7).

COPY/ADD follow a link only inside the root it belongs to: a link in the context
resolves inside the context, a link in the image inside the image, and a link that an
earlier source of the same COPY left in the destination is replaced, never written
through. The Dockerfile is a regular file of the context, and no error echoes a file
the client did not send. Docker 20.10's classic builder is the reference for each case.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.cli.test_cli import darse, ok
from tests.daemon import Darsed
from tests.ocilayout import tar_of_dir

SECRET = "root:$6$SECRET-HASH-NOT-FOR-CLIENTS:19000:0:99999:7:::\n"


@pytest.fixture
def outside() -> Iterator[Path]:
    """A host folder outside every build context: what a build must never touch."""
    path = Path(tempfile.mkdtemp(prefix="darse-victim-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def context(tmp_path: Path, dockerfile: str) -> Path:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(dockerfile)
    return ctx


def in_image(d: Darsed, image: str, script: str) -> str:
    return ok(d, "run", "--rm", image, "sh", "-c", script)


def test_copy_never_writes_through_a_link_an_earlier_source_left(
        darsed: Darsed, tmp_path: Path, outside: Path) -> None:
    """The issue's reproduction: a/x is a link to a host folder, b/x/evil a file."""
    ctx = context(tmp_path, "FROM busybox\nCOPY a b /dest/\n")
    (ctx / "a").mkdir()
    (ctx / "a/x").symlink_to(outside)
    (ctx / "b/x").mkdir(parents=True)
    (ctx / "b/x/evil").write_text("EVIL\n")
    ok(darsed, "build", "-t", "escape:dir", str(ctx))
    try:
        assert list(outside.iterdir()) == []
        # As with Docker: b's directory x replaces the link that a's x left.
        assert in_image(darsed, "escape:dir", "test -d /dest/x && ! test -L /dest/x && "
                        "cat /dest/x/evil") == "EVIL\n"
    finally:
        ok(darsed, "rmi", "escape:dir")


def test_copy_never_overwrites_a_host_file_through_a_link(
        darsed: Darsed, tmp_path: Path, outside: Path) -> None:
    """The issue's second reproduction: c/y links to a host file, d/y is a file."""
    host = outside / "hostfile"
    host.write_text("HOST\n")
    ctx = context(tmp_path, "FROM busybox\nCOPY c/ d/ /d2/\nCOPY c/ d/ e /d3/\n")
    (ctx / "c").mkdir()
    (ctx / "c/y").symlink_to(host)
    (ctx / "d").mkdir()
    (ctx / "d/y").write_text("DY\n")
    (ctx / "e").symlink_to("d/y")  # a file source that is a link: its target is copied
    ok(darsed, "build", "-t", "escape:file", str(ctx))
    try:
        assert host.read_text() == "HOST\n"
        out = in_image(darsed, "escape:file", "for f in /d2/y /d3/y /d3/e; do test -f $f && "
                       "! test -L $f && cat $f; done")
        assert out == "DY\nDY\nDY\n"
    finally:
        ok(darsed, "rmi", "escape:file")


def test_links_of_the_image_resolve_inside_the_image(darsed: Darsed, tmp_path: Path) -> None:
    """A destination through the image's links (one of them to /etc) lands in the image's
    own folders, the links staying links, as with Docker; the host's /etc is untouched."""
    name = f"darse-build-test-{os.getpid()}"
    ctx = context(tmp_path, (
        "FROM busybox\n"
        f"RUN ln -s /etc /hostetc && mkdir /real && ln -s /real /lnkdir && "
        f"ln -s /etc/{name}.final /final && ln -s ../../real /lnkup\n"
        f"COPY motd /hostetc/{name}\n"
        "COPY motd /lnkdir/\n"
        "COPY sub /lnkdir/sub/\n"
        "COPY motd /final\n"
        "COPY motd /lnkup/up\n"
        "COPY sub /hostetc/\n"))
    (ctx / "motd").write_text("MOTD\n")
    (ctx / "sub").mkdir()
    (ctx / "sub/f").write_text("F\n")
    try:
        ok(darsed, "build", "-t", "escape:image", str(ctx))
        assert not os.path.lexists(f"/etc/{name}") and not os.path.lexists(f"/etc/{name}.final")
        assert not os.path.lexists("/etc/f")  # a file this test never makes on the host
        out = in_image(darsed, "escape:image",
                       f"test -L /hostetc && test -L /lnkdir && test -L /final && "
                       f"cat /etc/{name} /real/motd /real/sub/f /etc/{name}.final /real/up "
                       "/etc/f")
        assert out == "MOTD\nMOTD\nF\nMOTD\nMOTD\nF\n"
    finally:
        for path in (f"/etc/{name}", f"/etc/{name}.final"):
            if os.path.lexists(path):
                os.unlink(path)
        darse(darsed, "rmi", "escape:image")


def test_sources_stay_in_the_context(darsed: Darsed, tmp_path: Path, outside: Path) -> None:
    """`..` may not leave the context; a link of the context resolves inside it, as if the
    context were '/'; a link inside a copied folder is copied as a link."""
    host = outside / "hostfile"
    host.write_text(SECRET)
    (tmp_path / "secret").write_text(SECRET)  # next to the context: `../secret`
    ctx = context(tmp_path, "")
    (ctx / "motd").write_text("MOTD\n")
    (ctx / "sub").mkdir()
    (ctx / "sub/f").write_text("F\n")
    (ctx / "abs").symlink_to("/motd")       # absolute: the context's /motd
    (ctx / "dirlink").symlink_to("/sub")    # a folder on the way
    (ctx / "up").symlink_to("../../../..")  # climbs, stops at the context
    (ctx / "hostlink").symlink_to(host)     # a host file: not in the context
    (ctx / "links").mkdir()
    (ctx / "links/l").symlink_to(host)
    (ctx / "Dockerfile").write_text(
        "FROM busybox\nCOPY abs /abs\nCOPY dirlink/f /f\nCOPY up/motd /up\n"
        "COPY sub/../motd /dotdot\nCOPY links /links/\n")
    ok(darsed, "build", "-t", "escape:ctx", str(ctx))
    try:
        out = in_image(darsed, "escape:ctx", "cat /abs /f /up /dotdot; readlink /links/l")
        assert out == f"MOTD\nF\nMOTD\nMOTD\n{host}\n"
    finally:
        ok(darsed, "rmi", "escape:ctx")
    before = ok(darsed, "images", "-qa")
    for line, message in [
            ("COPY ../secret /s", "COPY failed: forbidden path outside the build context: "
                                  "../secret ()"),
            ("ADD sub/../../secret /s", "ADD failed: forbidden path outside the build context: "
                                        "sub/../../secret ()"),
            ("COPY /../secret /s", "COPY failed: forbidden path outside the build context: "
                                   "../secret ()"),
            ("COPY hostlink /s", "COPY failed: file not found in build context or excluded by "
                                 ".dockerignore: stat hostlink: file does not exist"),
            ("COPY motd sub /s", "When using COPY with more than one source file, the "
                                 "destination must be a directory and end with a /")]:
        (ctx / "Dockerfile").write_text(f"FROM busybox\n{line}\n")
        done = darse(darsed, "build", "-t", "escape:bad", str(ctx))
        assert done.returncode == 1 and message in done.stderr, (line, done.stderr)
        assert "SECRET" not in done.stdout + done.stderr
    assert ok(darsed, "images", "-qa") == before


def test_copy_onto_a_file_of_the_image_fails_cleanly(darsed: Darsed, tmp_path: Path) -> None:
    ctx = context(tmp_path, "")
    (ctx / "motd").write_text("MOTD\n")
    before = ok(darsed, "images", "-qa")
    for line, message in [("COPY motd /bin/busybox/", "mkdir /bin/busybox: not a directory"),
                          ("COPY motd /bin/busybox/x/y", "mkdir /bin/busybox: not a directory")]:
        (ctx / "Dockerfile").write_text(f"FROM busybox\n{line}\n")
        done = darse(darsed, "build", str(ctx))
        assert done.returncode == 1 and message in done.stderr, (line, done.stderr)
        assert str(darsed.base) not in done.stderr  # the daemon's folders are not the client's
    assert ok(darsed, "images", "-qa") == before


def _api_build(d: Darsed, ctx: Path, dockerfile: str) -> tuple[int, str]:
    status, out = d.api("POST", f"/build?nocache=1&dockerfile={quote(dockerfile, safe='')}",
                        raw=tar_of_dir(str(ctx)))
    return status, out.decode(errors="replace")


def _error(out: str) -> str:
    """The build stream's error, the error answered before streaming (dockerd's for
    a Dockerfile it cannot read), or the whole body when there is none."""
    if out.startswith("{") and "message" in json.loads(out.splitlines()[0]):
        return json.loads(out.splitlines()[0])["message"]
    for line in out.splitlines():
        if line.strip() and "error" in json.loads(line):
            return json.loads(line)["error"]
    return out


def test_dockerfile_resolves_inside_the_context(darsed: Darsed, tmp_path: Path,
                                                outside: Path) -> None:
    """dockerfile=/abs and a Dockerfile that is a link resolve inside the context, as with
    Docker's classic builder; a host file is never read, its content never echoed."""
    secret = outside / "shadow"
    secret.write_text(SECRET)
    ctx = context(tmp_path, "FROM busybox\nRUN echo TOP\n")
    (ctx / "etc").mkdir()
    (ctx / "etc/Dockerfile.in").write_text("FROM busybox\nRUN echo INSIDE\n")
    (ctx / "abs-link").symlink_to("/etc/Dockerfile.in")
    (ctx / "host-link").symlink_to(secret)
    (ctx / "a-dir").mkdir()
    os.mkfifo(ctx / "a-fifo")
    for dockerfile, expected in [("/etc/Dockerfile.in", "INSIDE"), ("abs-link", "INSIDE"),
                                 ("etc/../Dockerfile", "TOP")]:
        status, out = _api_build(darsed, ctx, dockerfile)
        assert status == 200 and f"\n{expected}\n" in "".join(
            json.loads(line).get("stream", "") for line in out.splitlines()), out
    before = ok(darsed, "images", "-qa")
    for dockerfile, message in [
            (str(secret), f"Cannot locate specified Dockerfile: {secret}"),
            ("host-link", "Cannot locate specified Dockerfile: host-link"),
            ("../shadow", "forbidden path outside the build context: ../shadow ()"),
            ("a-dir", "unexpected error reading Dockerfile: read a-dir: is a directory"),
            ("a-fifo", "unexpected error reading Dockerfile: a-fifo is not a regular file")]:
        status, out = _api_build(darsed, ctx, dockerfile)
        assert _error(out) == message, (dockerfile, out)
        assert "SECRET" not in out
    assert ok(darsed, "images", "-qa") == before


def test_a_dockerfile_link_to_the_host_is_not_followed(darsed: Darsed, tmp_path: Path,
                                                       outside: Path) -> None:
    """The issue's reproduction through the CLI: Dockerfile -> a host file."""
    secret = outside / "shadow"
    secret.write_text(SECRET)
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").symlink_to(secret)
    done = darse(darsed, "build", str(ctx))
    assert done.returncode == 1 and "SECRET" not in done.stdout + done.stderr
    assert "Cannot locate specified Dockerfile: Dockerfile" in done.stderr


def test_dockerfile_size_is_bounded(darsed: Darsed, tmp_path: Path) -> None:
    ctx = context(tmp_path, "FROM busybox\n" + "#" * (16 << 20) + "\n")
    status, out = _api_build(darsed, ctx, "Dockerfile")
    assert "the Dockerfile is larger than" in _error(out), out[:300]
