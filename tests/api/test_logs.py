"""Logs read through darsed across rotated files: whole, --tail, and followed while the
json-file driver rotates under the reader."""

from __future__ import annotations

import json
import struct

from tests.daemon import Darsed


def _lines(body: bytes) -> list[str]:
    out, i = [], 0
    while i < len(body):
        _, length = struct.unpack(">BxxxL", body[i:i + 8])
        out.append(body[i + 8:i + 8 + length].decode())
        i += 8 + length
    return "".join(out).splitlines()


def _run(darsed: Darsed, name: str, script: str, max_file: str) -> str:
    status, out = darsed.api("POST", f"/containers/create?name={name}", {
        "Image": "busybox", "Cmd": ["sh", "-c", script],
        "HostConfig": {"LogConfig": {"Type": "json-file",
                                     "Config": {"max-size": "1k", "max-file": max_file}}}})
    assert status == 201, out
    cid = json.loads(out)["Id"]
    assert darsed.api("POST", f"/containers/{cid}/start")[0] == 204
    return cid


def test_tail_and_whole_log_across_rotated_files(darsed: Darsed) -> None:
    cid = _run(darsed, "rotated", "for i in $(seq 1 100); do echo line$i; done", "3")
    assert json.loads(darsed.api("POST", f"/containers/{cid}/wait")[1])["StatusCode"] == 0
    whole = _lines(darsed.api("GET", f"/containers/{cid}/logs?stdout=1")[1])
    # Three files of 1k keep the end of the output, in order, without a gap.
    assert whole[-1] == "line100" and len(whole) > 20
    first = int(whole[0][4:])
    assert whole == [f"line{i}" for i in range(first, 101)]
    tail = _lines(darsed.api("GET", f"/containers/{cid}/logs?stdout=1&tail=30")[1])
    assert tail == whole[-30:]
    assert _lines(darsed.api("GET", f"/containers/{cid}/logs?stdout=1&tail=0")[1]) == []
    assert _lines(darsed.api("GET", f"/containers/{cid}/logs?stdout=1&tail=1000")[1]) == whole
    darsed.api("DELETE", f"/containers/{cid}")


def test_follow_goes_on_across_rotations(darsed: Darsed) -> None:
    cid = _run(darsed, "rotating", "sleep 1; for i in $(seq 1 80); do echo line$i; "
               "usleep 10000; done", "20")
    status, body = darsed.api("GET", f"/containers/{cid}/logs?stdout=1&follow=1")
    assert status == 200
    assert _lines(body) == [f"line{i}" for i in range(1, 81)]
    darsed.api("DELETE", f"/containers/{cid}")


def test_details_show_the_log_opts_attributes(darsed: Darsed) -> None:
    """--log-opt labels/env/labels-regex/tag put attributes on each line, as json-file
    does; `logs --details` shows them sorted and query-escaped before the line, and a lone
    space when there are none (dockerd 20.10's output, compared by hand)."""
    from tests.cli.test_cli import darse

    def run(name: str, *flags: str) -> None:
        done = darsed.docker("run", "--name", name, "--network", "none", *flags, "busybox",
                             "echo", "hello")
        assert done.returncode == 0, done.stderr

    run("ld1", "--log-opt", "labels=b,a", "--log-opt", "env=FOO,NOPE", "--log-opt",
        "labels-regex=^z", "--label", "a=1", "--label", "b=x y,z", "--label", "zed=3",
        "-e", "FOO=bar=baz")
    run("ld2", "--log-opt", "tag={{.Name}}/{{.ImageName}}")
    run("ld3")
    try:
        for tool in (darsed.docker, lambda *a: darse(darsed, *a)):
            assert tool("logs", "--details", "ld1").stdout == \
                "FOO=bar%3Dbaz,a=1,b=x+y%2Cz,zed=3 hello\n"
            assert tool("logs", "--details", "ld2").stdout == "tag=ld2%2Fbusybox hello\n"
            assert tool("logs", "--details", "ld3").stdout == " hello\n"
            assert tool("logs", "ld1").stdout == "hello\n"
            stamped = tool("logs", "--details", "-t", "ld1").stdout
            assert stamped.split(" ", 1)[1] == "FOO=bar%3Dbaz,a=1,b=x+y%2Cz,zed=3 hello\n"
        log_path = darsed.docker("inspect", "-f", "{{.LogPath}}", "ld1").stdout.strip()
        with open(log_path) as f:
            record = json.loads(f.readline())
        assert record["attrs"] == {"FOO": "bar=baz", "a": "1", "b": "x y,z", "zed": "3"}
    finally:
        darsed.docker("rm", "-f", "ld1", "ld2", "ld3")
