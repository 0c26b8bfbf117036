"""docker cp through darsed: the archive endpoints (HEAD, GET, PUT
/containers/{id}/archive) as the real docker CLI and raw clients use them. The expected
answers are dockerd 20.10's, checked by hand against a private dockerd."""

from __future__ import annotations

import base64
import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from tests.daemon import Darsed

SETUP = ("mkdir -p /d1/sub; echo hi > /d1/f; echo x > /d1/sub/g; ln -s /d1 /lnk; "
         "ln -s f /d1/rel; ln -s /nowhere /dang; echo v > /data/v; mkfifo /fifo; "
         "touch /ready; sleep 1000")


def ok(d: Darsed, *args: str, input: str | None = None) -> str:
    done = d.docker(*args, input=input)
    assert done.returncode == 0, f"docker {' '.join(args)}: {done.stderr}"
    return done.stdout


def fails(d: Darsed, *args: str, input: str | None = None) -> str:
    done = d.docker(*args, input=input)
    assert done.returncode == 1, f"docker {' '.join(args)}: {done.stdout}"
    return done.stderr


@pytest.fixture
def ca(docker: Darsed):
    ok(docker, "run", "-d", "--name", "ca", "-v", "cpvol:/data", "busybox", "sh", "-c", SETUP)
    for _ in range(100):
        if docker.docker("exec", "ca", "test", "-e", "/ready").returncode == 0:
            break
    yield docker
    docker.docker("rm", "-f", "ca")
    docker.docker("volume", "rm", "cpvol")


def stat_of(d: Darsed, path: str, method: str = "HEAD") -> tuple[int, dict]:
    import http.client
    import socket

    class Conn(http.client.HTTPConnection):
        def connect(self) -> None:
            self.sock = socket.socket(socket.AF_UNIX)
            self.sock.connect(d.sock)

    conn = Conn("localhost", timeout=30)
    conn.request(method, f"/v1.41/containers/ca/archive?path={path}")
    resp = conn.getresponse()
    header = resp.getheader("X-Docker-Container-Path-Stat")
    body = resp.read()
    conn.close()
    if header is None:
        return resp.status, json.loads(body) if body else {}
    return resp.status, json.loads(base64.b64decode(header))


def tar_names(data: bytes) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        return [(ti.name + "/" if ti.isdir() and not ti.name.endswith("/") else ti.name)
                + (f" -> {ti.linkname}" if ti.issym() else "") for ti in tf]


def test_stat_header(ca: Darsed) -> None:
    cases = {
        "/d1": ("d1", 2147484141, ""), "/d1/f": ("f", 420, ""),
        "/lnk": ("lnk", 134218239, "/d1"), "/lnk/": ("lnk", 2147484141, ""),
        "/lnk/.": (".", 2147484141, ""), "/d1/rel": ("rel", 134218239, "/d1/f"),
        "/dang": ("dang", 134218239, "/nowhere"), "/": ("/", 2147484141, ""),
        "/fifo": ("fifo", 33554852, ""), "/data/v": ("v", 420, ""),
        "/../../etc/hostname": ("hostname", 420, ""), "/d1/sub/..": ("d1", 2147484141, ""),
    }
    for path, (name, mode, target) in cases.items():
        status, info = stat_of(ca, path)
        assert status == 200, path
        assert (info["name"], info["mode"], info["linkTarget"]) == (name, mode, target), path
        assert info["mtime"].endswith("Z") and "T" in info["mtime"]
    assert stat_of(ca, "/d1/f")[1]["size"] == 3
    assert stat_of(ca, "/data/v")[1]["size"] == 2
    assert stat_of(ca, "/nope", "GET") == (404, {"message": "Could not find the file /nope "
                                                            "in container ca"})
    assert stat_of(ca, "/dang/x", "GET")[0] == 404
    assert stat_of(ca, "/d1/f/", "GET") == (500, {"message": "lstat /d1/f/: not a directory"})
    assert stat_of(ca, "", "GET") == (400, {"message": "bad parameter: pathcannot be empty"})
    status, out = ca.api("GET", "/containers/nosuch/archive?path=/")
    assert (status, json.loads(out)) == (404, {"message": "No such container: nosuch"})


def test_get_archive_names(ca: Darsed) -> None:
    def names(path: str) -> list[str]:
        status, data = ca.api("GET", f"/containers/ca/archive?path={path}")
        assert status == 200, data
        return tar_names(data)

    assert names("/d1") == ["d1/", "d1/f", "d1/rel -> f", "d1/sub/", "d1/sub/g"]
    assert names("/d1/") == names("/d1")
    assert names("/d1/.") == ["./", "./f", "./rel -> f", "./sub/", "./sub/g"]
    assert names("/lnk") == ["lnk -> /d1"]
    assert names("/lnk/") == ["lnk/", "lnk/f", "lnk/rel -> f", "lnk/sub/", "lnk/sub/g"]
    assert names("/d1/f") == ["f"]
    assert names("/data") == ["data/", "data/v"]  # the volume's content
    assert names("/etc/hostname") == ["hostname"]
    # Go's tar ends: two zero blocks, no padding to a record.
    status, data = ca.api("GET", "/containers/ca/archive?path=/d1/f")
    assert len(data) == 2048


def test_cp_from_container(ca: Darsed, tmp_path: Path) -> None:
    out = tmp_path
    (out / "local.txt").write_text("hello\n")
    ok(ca, "cp", "ca:/d1/f", f"{out}/")
    ok(ca, "cp", "ca:/d1/f", f"{out}/f.copy")
    ok(ca, "cp", "ca:/d1", f"{out}/")
    ok(ca, "cp", "ca:/d1/.", f"{out}/d1content")
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
    # docker 20.10's CLI words for a 404 here (as against dockerd)
    assert fails(ca, "cp", "ca:/nope", f"{out}/") == "Error: No such container:path: ca:/nope\n"
    assert fails(ca, "cp", "ca:/d1/f/", f"{out}/") == (
        "Error response from daemon: lstat /d1/f/: not a directory\n")
    (out / "clash").mkdir()
    (out / "clash" / "d1").write_text("a file where a folder comes")
    assert fails(ca, "cp", "ca:/d1", f"{out}/clash/") == (
        f'cannot overwrite non-directory "{out}/clash/d1" with directory "{out}/clash"\n')
    piped = ca.docker("cp", "ca:/d1/f", "-")
    assert tar_names(piped.stdout.encode()) == ["f"]


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
    ok(ca, "cp", f"{src}/local.txt", "ca:/lnk")  # the link is followed: into /d1
    ok(ca, "cp", f"{src}/local.txt", "ca:/data/")  # into the volume
    listing = ok(ca, "exec", "ca", "sh", "-c", "cd /tmp && find . | sort")
    assert listing.split() == [".", "./contentonly", "./contentonly/s", "./contentonly/s/one",
                               "./ldir", "./ldir/s", "./ldir/s/one", "./local.txt",
                               "./newname", "./newname/s", "./newname/s/one",
                               "./renamed.txt"]
    assert ok(ca, "exec", "ca", "stat", "-c", "%u:%g %s", "/tmp/local.txt") == "1000:1000 6\n"
    assert ok(ca, "exec", "ca", "cat", "/d1/local.txt", "/data/local.txt") == "hello\n" * 2
    # The volume holds it, seen from another container.
    assert ok(ca, "run", "--rm", "-v", "cpvol:/v", "busybox", "cat", "/v/local.txt") == \
        "hello\n"
    assert "cannot copy directory" in fails(ca, "cp", f"{src}/ldir", "ca:/tmp/renamed.txt")
    assert "no such directory" in fails(ca, "cp", f"{src}/local.txt", "ca:/nodir/")
    assert fails(ca, "cp", f"{src}/local.txt", "ca:/nodir/x") == (
        "Error: No such container:path: ca:/nodir\n")
    # -L: a local link's target, under the link's own name; without it, the link itself
    os.symlink(src / "local.txt", src / "alias")
    ok(ca, "cp", "-L", f"{src}/alias", "ca:/tmp/")
    ok(ca, "cp", f"{src}/alias", "ca:/d1/")
    assert ok(ca, "exec", "ca", "cat", "/tmp/alias") == "hello\n"
    assert ok(ca, "exec", "ca", "readlink", "/d1/alias") == f"{src}/local.txt\n"
    with tarfile.open(src / "in.tar", "w") as tf:
        tf.add(src / "local.txt", arcname="piped.txt")
    assert ca.docker("cp", "-", "ca:/tmp/", input="").returncode == 0  # no entries
    done = os.system(f"docker -H {ca.host} cp - ca:/tmp/ < {src}/in.tar")
    assert done == 0
    assert ok(ca, "exec", "ca", "cat", "/tmp/piped.txt") == "hello\n"
    bad = ca.docker("cp", "-", "ca:/tmp/", input="notatar\n")
    assert (bad.returncode, bad.stderr) == (1, "Error response from daemon: Error processing "
                                               "tar file(exit status 1): unexpected EOF\n")


def _put(d: Darsed, path: str, entries: list[tuple], query: str = "") -> tuple[int, bytes]:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, kind, value in entries:
            ti = tarfile.TarInfo(name)
            if kind == "sym":
                ti.type, ti.linkname = tarfile.SYMTYPE, value
                tf.addfile(ti)
            elif kind == "hard":
                ti.type, ti.linkname = tarfile.LNKTYPE, value
                tf.addfile(ti)
            elif kind == "dir":
                ti.type = tarfile.DIRTYPE
                tf.addfile(ti)
            else:
                ti.size = len(value)
                tf.addfile(ti, io.BytesIO(value))
    return d.api("PUT", f"/containers/ca/archive?path={path}{query}", raw=buf.getvalue())


def test_put_refusals_and_links(ca: Darsed) -> None:
    def message(out: bytes) -> str:
        return json.loads(out)["message"]

    status, out = _put(ca, "/d1", [("../../escape", "file", b"x")])
    assert (status, message(out)) == (500, 'Error processing tar file(exit status 1): '
                                           '"../../escape" is outside of "/d1"')
    status, out = _put(ca, "/d1", [("h", "hard", "../../../etc/passwd")])
    assert (status, message(out)) == (500, 'Error processing tar file(exit status 1): '
                                           'invalid hardlink "/etc/passwd" -> '
                                           '"../../../etc/passwd"')
    status, out = _put(ca, "/nope", [("a", "file", b"x")])
    assert (status, message(out)) == (404, "Could not find the file /nope in container ca")
    status, out = _put(ca, "/d1/f", [("a", "file", b"x")])
    assert (status, message(out)) == (500, "extraction point is not a directory")
    status, out = _put(ca, "/d1", [("f", "dir", None)], "&noOverwriteDirNonDir=true")
    assert (status, message(out)) == (500, 'Error processing tar file(exit status 1): cannot '
                                           'overwrite non-directory "/d1/f" with directory '
                                           '"/d1"')
    # A link the tar brings leads inside the container, never to the host.
    status, out = _put(ca, "/d1", [("evil", "sym", "/"), ("evil/tmp/pwned", "file", b"x"),
                                   ("/abs", "file", b"y")])
    assert status == 200, out
    assert ok(ca, "exec", "ca", "cat", "/tmp/pwned", "/d1/abs") == "xy"
    assert not os.path.exists("/tmp/pwned") and not os.path.exists("/escape")
    # A mount point (the /etc files darse binds, a volume) is not replaced: dockerd's EBUSY
    status, out = _put(ca, "/etc", [("hosts", "file", b"1.2.3.4 evil\n")])
    assert (status, message(out)) == (500, "Error processing tar file(exit status 1): unlinkat "
                                           "/etc/hosts: device or resource busy")
    status, out = _put(ca, "/", [("data", "file", b"x")])
    assert (status, message(out)) == (500, "Error processing tar file(exit status 1): unlinkat "
                                           "/data: device or resource busy")
    assert "evil" not in ok(ca, "exec", "ca", "cat", "/etc/hosts")
    status, _ = _put(ca, "/d1", [("sub", "dir", None), ("sub/hl", "hard", "f")])
    assert status == 200
    assert ok(ca, "exec", "ca", "stat", "-c", "%h", "/d1/f") == "2\n"


def test_read_only(docker: Darsed, tmp_path: Path) -> None:
    ok(docker, "run", "-d", "--name", "ro", "--read-only", "-v", "rovol:/rov:ro",
       "-v", "rwvol:/rw", "busybox", "sleep", "1000")
    (tmp_path / "f").write_text("x")
    try:
        assert fails(docker, "cp", f"{tmp_path}/f", "ro:/") == (
            "Error response from daemon: container rootfs is marked read-only\n")
        assert fails(docker, "cp", f"{tmp_path}/f", "ro:/rov/") == (
            "Error response from daemon: mounted volume is marked read-only\n")
        ok(docker, "cp", f"{tmp_path}/f", "ro:/rw/")
        # A stopped container: its rootfs and volumes are reached all the same.
        ok(docker, "stop", "-t", "0", "ro")
        ok(docker, "cp", f"{tmp_path}/f", "ro:/rw/g")
        ok(docker, "cp", "ro:/rw/g", f"{tmp_path}/back")
        assert (tmp_path / "back").read_text() == "x"
        ok(docker, "cp", "ro:/etc/hostname", f"{tmp_path}/hn")
        assert len((tmp_path / "hn").read_text().strip()) == 12
    finally:
        docker.docker("rm", "-f", "ro")
        docker.docker("volume", "rm", "rovol", "rwvol")
    with open("/proc/self/mountinfo") as f:
        assert str(docker.base) not in f.read()
