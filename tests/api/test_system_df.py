"""docker system df (-v) and docker system prune through darsed, with the docker CLI and
darse's own: the same tables and reports (their layout and sums as dockerd 20.10's)."""

from __future__ import annotations

import json
import time

from tests.cli.test_cli import darse
from tests.daemon import Darsed


def ok(d: Darsed, *args: str, input: str | None = None) -> str:
    done = d.docker(*args, input=input)
    assert done.returncode == 0, f"docker {' '.join(args)}: {done.stderr}"
    return done.stdout


def mine(d: Darsed, *args: str, input: str | None = None) -> str:
    done = darse(d, *args, input=input)
    assert done.returncode == 0, f"darse {' '.join(args)}: {done.stderr}"
    return done.stdout


def test_df(docker: Darsed) -> None:
    ok(docker, "run", "-d", "--name", "up", "-v", "dfv1:/v", "busybox", "sh", "-c",
       "echo abc > /v/f; echo 1234 > /x; touch /ready; sleep 1000")
    ok(docker, "run", "--name", "st", "busybox", "sh", "-c", "echo 12345678 > /y")
    ok(docker, "volume", "create", "dfv2")
    for _ in range(100):
        if docker.docker("exec", "up", "test", "-e", "/ready").returncode == 0:
            break
        time.sleep(0.05)
    try:
        status, body = docker.api("GET", "/system/df")
        data = json.loads(body)
        assert status == 200 and data["BuildCache"] == []
        assert data["LayersSize"] > 0 and data["Images"][0]["Containers"] == 2
        sizes = {c["Names"][0]: c["SizeRw"] for c in data["Containers"]}
        assert sizes == {"/up": 5, "/st": 9}
        usage = {v["Name"]: v["UsageData"] for v in data["Volumes"]}
        assert usage == {"dfv1": {"Size": 4, "RefCount": 1}, "dfv2": {"Size": 0, "RefCount": 0}}
        table = ok(docker, "system", "df")
        lines = table.splitlines()
        assert lines[0] == "TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE"
        assert lines[1].split()[:3] == ["Images", "1", "1"] and lines[1].endswith("0B (0%)")
        assert lines[2:] == ["Containers      2         1         14B       9B (64%)",
                             "Local Volumes   2         1         4B        0B (0%)",
                             "Build Cache     0         0         0B        0B"]
        assert mine(docker, "system", "df") == table
        for _ in range(3):  # the same second: "Up 1 second" both times
            verbose = ok(docker, "system", "df", "-v")
            if mine(docker, "system", "df", "-v") == verbose:
                break
        else:
            raise AssertionError("darse system df -v differs from docker's")
        assert "VOLUME NAME   LINKS     SIZE\ndfv1          1         4B\n" in verbose
        assert '"sh -c \'echo 1234567…"   0               9B' in verbose
    finally:
        docker.docker("rm", "-f", "up", "st")
        docker.docker("volume", "rm", "dfv1", "dfv2")


def test_system_prune(docker: Darsed) -> None:
    def setup() -> tuple[str, str]:
        stopped = ok(docker, "create", "busybox", "true").strip()
        ok(docker, "network", "create", "prunenet")
        ok(docker, "volume", "create", "prunevol")
        dangling = ok(docker, "commit", stopped).strip()
        return stopped, dangling

    no = docker.docker("system", "prune", input="n\n")
    assert no.returncode == 0 and no.stdout == (
        "WARNING! This will remove:\n  - all stopped containers\n  - all networks not used "
        "by at least one container\n  - all dangling images\n  - all dangling build cache\n\n"
        "Are you sure you want to continue? [y/N] ")
    for run in (ok, mine):
        stopped, dangling = setup()
        out = run(docker, "system", "prune", "-f", "--volumes")
        assert out.startswith(f"Deleted Containers:\n{stopped}\n\nDeleted Networks:\nprunenet"
                              f"\n\nDeleted Volumes:\nprunevol\n\nDeleted Images:\n"), out
        assert f"deleted: {dangling}\n" in out
        assert out.splitlines()[-1].startswith("Total reclaimed space: ")
        assert ok(docker, "ps", "-aq") == "" and "prunenet" not in ok(docker, "network", "ls")
        assert ok(docker, "system", "prune", "-f") == "Total reclaimed space: 0B\n"
        assert mine(docker, "system", "prune", "-f") == "Total reclaimed space: 0B\n"
    status, body = docker.api("POST", "/build/prune")
    assert (status, json.loads(body)) == (200, {"CachesDeleted": None, "SpaceReclaimed": 0})
