"""COPY and ADD beyond the context's plain files: ADD of http(s) URLs (a server on
127.0.0.1), --chown by name with docker's errors, --chmod, and the refusals docker
gives (no source matched, several sources to a destination without '/')."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.build.compare import Engine, same_image
from tests.build.conftest import Dockerd
from tests.daemon import Darsed


@pytest.fixture(scope="module")
def engines(darsed: Darsed, dockerd: Dockerd | None):
    return Engine("darse", darsed), (Engine("docker", dockerd) if dockerd else None)


@pytest.fixture
def web(tmp_path: Path) -> Iterator[str]:
    root = tmp_path / "www"
    root.mkdir()
    (root / "page.txt").write_text("from the web\n")

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def ctx_with(tmp_path: Path, dockerfile: str) -> Path:
    ctx = tmp_path / "ctx"
    ctx.mkdir(exist_ok=True)
    (ctx / "Dockerfile").write_text(dockerfile)
    (ctx / "f").write_text("F\n")
    (ctx / "d").mkdir(exist_ok=True)
    (ctx / "d/x").write_text("X\n")
    return ctx


def test_add_url(engines, tmp_path: Path, web: str) -> None:
    darse, _ = engines
    ctx = ctx_with(tmp_path, f"FROM busybox\nADD {web}/page.txt /web/\n"
                             f"ADD {web}/page.txt /named\n")
    out = darse.ok("build", "--no-cache", "-t", "url:1", str(ctx))
    assert "Downloading" in out
    got = darse.ok("run", "--rm", "url:1", "sh", "-c",
                   "cat /web/page.txt /named; stat -c '%a %u' /web/page.txt /named")
    assert got == "from the web\nfrom the web\n600 0\n600 0\n"
    out = darse.ok("build", str(ctx))
    assert out.count("Using cache") == 2  # the same content: the same steps
    (tmp_path / "www/page.txt").write_text("changed\n")
    out = darse.ok("build", str(ctx))
    assert out.count("Using cache") == 0
    done = darse.run("build", "--no-cache", str(ctx_with(
        tmp_path, f"FROM busybox\nADD {web}/missing.txt /m\n")))
    assert done.returncode == 1 and b"404" in done.stderr
    done = darse.run("build", str(ctx_with(tmp_path, f"FROM busybox\nCOPY {web}/page.txt /m\n")))
    assert done.returncode == 1 and b"source can't be a URL for COPY" in done.stderr
    darse.rmi("url:1")


def test_chown_by_name_and_chmod(engines, tmp_path: Path) -> None:
    darse, docker = engines
    ctx = ctx_with(tmp_path, "FROM busybox\nCOPY --chown=daemon f /by-user\n"
                             "COPY --chown=nobody:nogroup d /by-both/\n"
                             "COPY --chown=7:8 f /by-ids\nADD --chown=daemon:0 f /add\n")
    image = same_image(darse, docker, ctx, "--no-cache")
    files = image["files"]
    assert files["by-user"][2:4] == (1, 1) and files["by-both/x"][2:4] == (65534, 65534)
    assert files["by-ids"][2:4] == (7, 8) and files["add"][2:4] == (1, 0)
    darse.rmi(image["id"])
    # --chmod (BuildKit's, docker's classic builder refuses it): files and folders copied.
    (ctx / "Dockerfile").write_text("FROM busybox\nCOPY --chmod=640 f /f\n"
                                    "COPY --chmod=750 d /d/\n")
    out = darse.ok("build", "--no-cache", "-t", "chmod:1", str(ctx))
    assert darse.ok("run", "--rm", "chmod:1", "stat", "-c", "%a %n", "/f", "/d", "/d/x") == \
        "640 /f\n755 /d\n750 /d/x\n", out
    darse.rmi("chmod:1")


@pytest.mark.parametrize("line,message", [
    ("COPY --chown=nosuch f /x", "unable to convert uid/gid chown string to host mapping: "
                                 "can't find uid for user nosuch: no such user: nosuch"),
    ("COPY --chown=root:nosuch f /x", "unable to convert uid/gid chown string to host "
                                      "mapping: can't find gid for group nosuch: no such "
                                      "group: nosuch"),
    ("COPY nomatch* /x/", "COPY failed: no source files were specified"),
    ("COPY f d /x", "When using COPY with more than one source file, the destination must "
                    "be a directory and end with a /"),
    ("COPY * /x", "When using COPY with more than one source file, the destination must be "
                  "a directory and end with a /"),
])
def test_copy_errors_as_docker(engines, tmp_path: Path, line: str, message: str) -> None:
    darse, docker = engines
    ctx = ctx_with(tmp_path, f"FROM busybox\n{line}\n")
    before = darse.ok("images", "-qa")
    for engine in filter(None, (darse, docker)):
        done = engine.run("build", str(ctx))
        assert done.returncode == 1 and message in done.stderr.decode(), (engine.name,
                                                                          done.stderr)
    assert darse.ok("images", "-qa") == before


def test_remote_contexts(darsed: Darsed, tmp_path: Path, web: str) -> None:
    """POST /build?remote=URL: a tarball served over http is the context, any other file
    the Dockerfile alone."""
    import io
    import json
    import tarfile

    www = tmp_path / "www"
    with tarfile.open(www / "ctx.tar.gz", "w:gz") as tf:
        for name, data in (("Dockerfile", b"FROM busybox\nCOPY f /f\nRUN cat /f\n"),
                           ("f", b"from a remote tarball\n")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    (www / "Dockerfile.txt").write_text("FROM busybox\nRUN echo remote dockerfile\n")
    for path, expected in (("ctx.tar.gz", "from a remote tarball\n"),
                           ("Dockerfile.txt", "remote dockerfile\n")):
        status, body = darsed.api("POST", f"/build?nocache=1&remote={web}/{path}")
        streams = "".join(json.loads(line).get("stream", "")
                          for line in body.decode().splitlines() if line.strip())
        assert status == 200 and expected in streams, body
    out = Engine("darse", darsed).ok("build", "--no-cache", f"{web}/ctx.tar.gz")
    assert "from a remote tarball\n" in out
    status, body = darsed.api("POST", f"/build?remote={web}/missing.tar")
    assert status == 500 and b"unable to download remote context" in body
