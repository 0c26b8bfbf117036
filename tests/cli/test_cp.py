"""darse cp, both ways: the same results and messages as the docker CLI gives (the same
cases as tests/api/test_archive.py, there through docker 20.10's CLI)."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from tests.cli.test_cli import darse, ok
from tests.daemon import Darsed

SETUP = ("mkdir -p /d1/sub; echo hi > /d1/f; echo x > /d1/sub/g; ln -s /d1 /lnk; "
         "ln -s f /d1/rel; echo v > /data/v; touch /ready; sleep 1000")


def fails(d: Darsed, *args: str, input: str | None = None) -> str:
    done = darse(d, *args, input=input)
    assert done.returncode == 1, f"darse {' '.join(args)}: {done.stdout}"
    return done.stderr


@pytest.fixture
def ca(darsed: Darsed):
    ok(darsed, "run", "-d", "--name", "ca", "-v", "cpvol2:/data", "busybox", "sh", "-c", SETUP)
    for _ in range(100):
        if darse(darsed, "exec", "ca", "test", "-e", "/ready").returncode == 0:
            break
    yield darsed
    darse(darsed, "rm", "-f", "ca")
    darse(darsed, "volume", "rm", "cpvol2")


def test_cp_from_container(ca: Darsed, tmp_path: Path) -> None:
    out = tmp_path
    (out / "local.txt").write_text("hello\n")
    ok(ca, "cp", "ca:/d1/f", f"{out}/")
    ok(ca, "cp", "ca:/d1/f", f"{out}/f.copy")
    ok(ca, "cp", "ca:/d1", f"{out}/")
    ok(ca, "container", "cp", "ca:/d1/.", f"{out}/d1content")
    ok(ca, "cp", "ca:/d1", f"{out}/newdir/")
    ok(ca, "cp", "ca:/lnk", f"{out}/")
    ok(ca, "cp", "-L", "ca:/lnk", f"{out}/lnkL")
    ok(ca, "cp", "ca:/d1/rel", f"{out}/")
    ok(ca, "cp", "-L", "ca:/d1/rel", f"{out}/relL")
    ok(ca, "cp", "ca:/data/v", f"{out}/")
    assert (out / "f").read_text() == "hi\n" and (out / "f.copy").read_text() == "hi\n"
    for d in ("d1", "d1content", "newdir", "lnkL"):
        assert sorted(os.listdir(out / d)) == ["f", "rel", "sub"], d
        assert (out / d / "sub" / "g").read_text() == "x\n"
        assert os.readlink(out / d / "rel") == "f"
    assert os.readlink(out / "lnk") == "/d1" and os.readlink(out / "rel") == "f"
    assert (out / "relL").read_text() == "hi\n" and (out / "v").read_text() == "v\n"
    assert fails(ca, "cp", "ca:/d1/f", f"{out}/nodir/") == "no such directory\n"
    assert fails(ca, "cp", "ca:/d1", f"{out}/local.txt") == "cannot copy directory\n"
    assert fails(ca, "cp", "ca:/nope", f"{out}/") == "Error: No such container:path: ca:/nope\n"
    assert fails(ca, "cp", "ca:/d1/f/", f"{out}/") == (
        "Error response from daemon: lstat /d1/f/: not a directory\n")
    assert fails(ca, "cp", "ca:/d1/f", "ca:/x") == (
        "copying between containers is not supported\n")
    assert fails(ca, "cp", "a", "b") == "must specify at least one container source\n"
    (out / "clash").mkdir()
    (out / "clash" / "d1").write_text("a file where a folder comes")
    assert fails(ca, "cp", "ca:/d1", f"{out}/clash/") == (
        f'cannot overwrite non-directory "{out}/clash/d1" with directory "{out}/clash"\n')
    piped = darse(ca, "cp", "ca:/d1/f", "-")
    with tarfile.open(fileobj=io.BytesIO(piped.stdout.encode())) as tf:
        assert tf.getnames() == ["f"]


def test_cp_into_container(ca: Darsed, tmp_path: Path) -> None:
    src = tmp_path
    (src / "local.txt").write_text("hello\n")
    os.chown(src / "local.txt", 1000, 1000)
    (src / "ldir" / "s").mkdir(parents=True)
    (src / "ldir" / "s" / "one").write_text("1\n")
    ok(ca, "cp", f"{src}/local.txt", "ca:/tmp/")
    ok(ca, "cp", f"{src}/local.txt", "ca:/tmp/renamed.txt")
    ok(ca, "cp", f"{src}/ldir", "ca:/tmp/")
    ok(ca, "cp", f"{src}/ldir", "ca:/tmp/newname")
    ok(ca, "cp", f"{src}/ldir/.", "ca:/tmp/contentonly")
    ok(ca, "cp", f"{src}/local.txt", "ca:/lnk")
    ok(ca, "cp", f"{src}/local.txt", "ca:/data/")
    listing = ok(ca, "exec", "ca", "sh", "-c", "cd /tmp && find . | sort")
    assert listing.split() == [".", "./contentonly", "./contentonly/s", "./contentonly/s/one",
                               "./ldir", "./ldir/s", "./ldir/s/one", "./local.txt",
                               "./newname", "./newname/s", "./newname/s/one",
                               "./renamed.txt"]
    assert ok(ca, "exec", "ca", "stat", "-c", "%u:%g %s", "/tmp/local.txt") == "1000:1000 6\n"
    assert ok(ca, "exec", "ca", "cat", "/d1/local.txt", "/data/local.txt") == "hello\n" * 2
    assert fails(ca, "cp", f"{src}/ldir", "ca:/tmp/renamed.txt") == "cannot copy directory\n"
    assert fails(ca, "cp", f"{src}/local.txt", "ca:/nodir/") == "no such directory\n"
    assert fails(ca, "cp", f"{src}/local.txt", "ca:/nodir/x") == (
        "Error: No such container:path: ca:/nodir\n")
    assert fails(ca, "cp", f"{src}/nonexist", "ca:/tmp/") == (
        f"lstat {src}/nonexist: no such file or directory\n")
    # -L: a local link's target, under the link's own name; without it, the link itself
    os.symlink(src / "local.txt", src / "alias")
    ok(ca, "cp", "-L", f"{src}/alias", "ca:/tmp/")
    ok(ca, "cp", f"{src}/alias", "ca:/d1/")
    assert ok(ca, "exec", "ca", "cat", "/tmp/alias") == "hello\n"
    assert ok(ca, "exec", "ca", "readlink", "/d1/alias") == f"{src}/local.txt\n"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        tf.add(src / "local.txt", arcname="piped.txt")
    done = darse(ca, "cp", "-", "ca:/tmp/", input=buf.getvalue().decode("latin-1"))
    assert done.returncode == 0, done.stderr
    assert ok(ca, "exec", "ca", "cat", "/tmp/piped.txt") == "hello\n"
    assert fails(ca, "cp", "-", "ca:/tmp/nodir/", input="") == (
        'destination "ca:/tmp/nodir/" must be a directory\n')
    assert fails(ca, "cp", "-", "ca:/tmp/", input="notatar\n") == (
        "Error response from daemon: Error processing tar file(exit status 1): "
        "unexpected EOF\n")
