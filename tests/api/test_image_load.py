"""docker load of something that is no image archive: as dockerd 20.10 (checked on a
private one), the error is the last line of a 200 progress stream, so docker-py's
images.load raises ImageLoadError and the docker CLI prints the message alone (no
"Error response from daemon"); nothing is loaded."""

from __future__ import annotations

import json

import docker as dockerpy
import pytest

from tests.daemon import Darsed


def test_a_bad_archive_fails_in_the_stream(darsed: Darsed, tmp_path) -> None:  # noqa: ANN001
    before = darsed.api("GET", "/images/json?all=1")[1]
    status, out = darsed.api("POST", "/images/load", raw=b"abc")
    assert status == 200, out
    last = json.loads(out.splitlines()[-1])
    assert last["error"] and last["errorDetail"]["message"] == last["error"]
    client = dockerpy.DockerClient(base_url=darsed.host, version="1.41")
    try:
        with pytest.raises(dockerpy.errors.ImageLoadError):
            client.images.load(b"abc")
    finally:
        client.close()
    (tmp_path / "bad.tar").write_bytes(b"abc\n")
    done = darsed.docker("load", "-i", str(tmp_path / "bad.tar"))
    assert done.returncode == 1
    assert done.stderr.strip() == last["error"]
    assert darsed.api("GET", "/images/json?all=1")[1] == before
