"""POST /build's stream as dockerd's: `aux` with the image id before "Successfully
built", a RUN's stderr in red, a failed step's error with its exit `code`; what can be
found before building (an empty or broken context, a parse error, squash) answered
with an error status and no stream."""

from __future__ import annotations

import io
import json
import tarfile
from urllib.parse import quote

import pytest

from tests.build.conftest import Dockerd
from tests.daemon import Darsed
from tests.ocilayout import tar_of_files as tar_of


def docker_api(d: Dockerd, path: str, body: bytes) -> tuple[int, bytes]:
    from tests.daemon import _http

    return _http(str(d.sock), "POST", path, body)


def events(body: bytes) -> list[dict]:
    return [json.loads(line) for line in body.decode().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def apis(darsed: Darsed, dockerd: Dockerd | None):
    out = [lambda path, body: darsed.api("POST", path, raw=body)]
    if dockerd is not None:
        out.append(lambda path, body: docker_api(dockerd, path, body))
    return out


def test_order_colour_and_code(apis) -> None:
    dockerfile = b"FROM busybox\nRUN echo out; echo err >&2\nRUN exit 5\n"
    for api in apis:
        status, body = api("/build?nocache=1", tar_of({"Dockerfile": dockerfile}))
        got = events(body)
        assert status == 200
        streams = "".join(e.get("stream", "") for e in got)
        assert "out\n" in streams and "\x1b[91merr\n\x1b[0m" in streams, streams
        assert got[-1]["errorDetail"] == {
            "code": 5, "message": "The command '/bin/sh -c exit 5' returned a non-zero "
                                  "code: 5"}, got[-1]
        status, body = api("/build?nocache=1", tar_of({"Dockerfile": dockerfile[:-11]}))
        got = events(body)
        aux = next(i for i, e in enumerate(got) if "aux" in e)
        built = next(i for i, e in enumerate(got)
                     if e.get("stream", "").startswith("Successfully built"))
        assert aux < built and got[aux]["aux"]["ID"].startswith("sha256:")


@pytest.mark.parametrize("body,query,status,message", [
    (b"", "", 500, "Cannot locate specified Dockerfile: Dockerfile"),
    (tar_of({"other": b"x"}), "", 500, "Cannot locate specified Dockerfile: Dockerfile"),
    (tar_of({"Dockerfile": b"FROM busybox\nARG =x\n"}), "", 400,
     "dockerfile parse error line 2: ARG names can not be blank"),
    (tar_of({"Dockerfile": b"FROM busybox\n"}), "target=zz", 400,
     "failed to reach build target zz in Dockerfile"),
    (tar_of({"Dockerfile": b"FROM busybox\n"}), "squash=1", 400,
     "squash is only supported with experimental mode"),
])
def test_refused_before_the_stream(apis, body: bytes, query: str, status: int,
                                   message: str) -> None:
    for api in apis:
        got_status, got = api(f"/build?{query}", body)
        assert (got_status, json.loads(got)["message"]) == (status, message)


def test_broken_context_is_a_500(darsed: Darsed) -> None:
    status, body = darsed.api("POST", "/build", raw=b"this is not a tar" * 100)
    assert status == 500 and json.loads(body)["message"]
    before = darsed.api("GET", "/images/json?all=1")[1]
    status, body = darsed.api("POST", f"/build?dockerfile={quote('nope')}",
                              raw=tar_of({"Dockerfile": b"FROM busybox\n"}))
    assert status == 500 and json.loads(body)["message"] == \
        "Cannot locate specified Dockerfile: nope"
    assert darsed.api("GET", "/images/json?all=1")[1] == before


def test_run_output_streams_as_it_comes(darsed: Darsed) -> None:
    """A RUN's output reaches the client while the step runs, as dockerd sends it."""
    import http.client
    import socket
    import time

    class Conn(http.client.HTTPConnection):
        def connect(self) -> None:
            self.sock = socket.socket(socket.AF_UNIX)
            self.sock.connect(darsed.sock)

    body = tar_of({"Dockerfile": b"FROM busybox\nRUN echo first; sleep 2; echo second\n"})
    conn = Conn("localhost", timeout=60)
    conn.request("POST", "/build?nocache=1", body=body)
    resp = conn.getresponse()
    seen: dict[str, float] = {}
    start = time.monotonic()
    for line in resp:
        stream = json.loads(line).get("stream", "") if line.strip() else ""
        for word in ("first", "second", "Successfully built"):
            if stream.startswith(word):
                seen[word] = time.monotonic() - start
    conn.close()
    assert set(seen) == {"first", "second", "Successfully built"}, seen
    assert seen["second"] - seen["first"] > 1.5, seen  # not all at once when it ended


@pytest.mark.parametrize("mode", ["w:gz", "w:bz2", "w:xz"])
def test_compressed_contexts(darsed: Darsed, mode: str) -> None:
    """dockerd takes a gzip, bzip2 or xz context as well as a plain tar."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode=mode) as tf:
        for name, data in (("Dockerfile", b"FROM busybox\nCOPY f /f\nRUN cat /f\n"),
                           ("f", b"compressed " + mode.encode() + b"\n")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    status, body = darsed.api("POST", "/build?nocache=1", raw=out.getvalue())
    streams = "".join(e.get("stream", "") for e in events(body))
    assert status == 200 and f"compressed {mode}\n" in streams, body
