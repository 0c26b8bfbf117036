"""GET /containers/stats, darse's own endpoint for every container's figures at once:
the same figures as Docker's per-container GET /containers/{id}/stats, and the same table
through `darse stats --no-stream` as the docker CLI prints from the per-container one."""

from __future__ import annotations

import json

from tests.api.test_stats import ROW, ok
from tests.cli.test_cli import darse
from tests.daemon import Darsed

ZERO = "0001-01-01T00:00:00Z"


def _get(d: Darsed, path: str) -> tuple[int, object]:
    status, body = d.api("GET", path)
    return status, json.loads(body)


def _figures(record: dict) -> tuple:
    """What the columns of `docker stats` show, apart from the CPU and memory use (they
    move between two readings)."""
    return (record["id"], record["name"], record["memory_stats"].get("limit"),
            record["pids_stats"].get("current"),
            sorted(record.get("networks") or {}),
            record["blkio_stats"]["io_service_bytes_recursive"])


def test_bulk_stats_are_the_per_container_figures(docker: Darsed) -> None:
    ok(docker, "run", "-d", "--name", "b1", "-m", "80m", "--memory-swap", "100m", "busybox",
       "sleep", "1000")
    ok(docker, "run", "-d", "--name", "b2", "--network", "none", "busybox", "sh", "-c",
       "while true; do :; done")
    ok(docker, "create", "--name", "b3", "busybox")
    try:
        listed = [c["Id"] for c in _get(docker, "/containers/json")[1]]
        status, records = _get(docker, "/containers/stats")
        assert status == 200 and [r["id"] for r in records] == listed
        for record in records:
            one = _get(docker, f"/containers/{record['id']}/stats?stream=false")[1]
            assert _figures(record) == _figures(one)
            assert record["preread"] != ZERO and record["read"] > record["preread"]
            for key in ("read", "preread", "name", "id"):
                assert isinstance(record[key], str)
        by_name = {r["name"]: r for r in records}
        assert by_name["/b1"]["memory_stats"]["limit"] == 80 << 20
        assert "eth0" in by_name["/b1"]["networks"] and "networks" not in by_name["/b2"]
        busy = by_name["/b2"]
        used = busy["cpu_stats"]["cpu_usage"]["total_usage"] - \
            busy["precpu_stats"]["cpu_usage"]["total_usage"]
        assert used > 50_000_000  # the busy loop had its share of the window between
        assert busy["cpu_stats"]["system_cpu_usage"] > busy["precpu_stats"]["system_cpu_usage"]
        # Stopped ones as ps -a lists them: dockerd's zeroes, as the per-container answer.
        status, every = _get(docker, "/containers/stats?all=1")
        assert [r["id"] for r in every] == [c["Id"] for c in
                                            _get(docker, "/containers/json?all=1")[1]]
        idle = next(r for r in every if r["name"] == "/b3")
        assert idle == _get(docker, "/containers/b3/stats?stream=false")[1]
        # Those named, in that order, by name or id prefix; one-shot: no CPU delta.
        status, named = _get(docker, f"/containers/stats?containers=b3&containers="
                                     f"{by_name['/b1']['id'][:8]}&one-shot=1")
        assert status == 200 and [r["name"] for r in named] == ["/b3", "/b1"]
        assert named[1]["preread"] == ZERO and named[1]["pids_stats"] == {"current": 1}
        # An unknown one: dockerd's 404 and words, as the per-container endpoint's.
        for path in ("/containers/stats?containers=b1&containers=nosuch",
                     "/containers/nosuch/stats?stream=false"):
            assert _get(docker, path) == (404, {"message": "No such container: nosuch"})
        assert _get(docker, "/v1.41/containers/stats")[0] == 200
    finally:
        docker.docker("rm", "-f", "b1", "b2", "b3")


def test_darse_stats_table_as_dockers(docker: Darsed) -> None:
    """darse's one request prints what the docker CLI prints from a request each: the
    same rows in the same order (the CPU, memory and network use aside, which move)."""
    for name in ("t1", "t2", "t3"):
        ok(docker, "run", "-d", "--name", name, "-m", "64m", "busybox", "sleep", "1000")
    ok(docker, "create", "--name", "t4", "busybox")
    try:
        for args in ([], ["-a"], ["t3", "t1"], ["--no-trunc", "-a"]):
            tables = []
            for cli in ("docker", "darse"):
                run = docker.docker if cli == "docker" else lambda *a: darse(docker, *a)
                done = run("stats", "--no-stream", *args)
                assert done.returncode == 0 and done.stderr == "", (cli, done.stderr)
                lines = done.stdout.splitlines()
                rows = [ROW.match(line) or line for line in lines[1:]]
                tables.append([lines[0].split()] + [
                    r.group(1, 2, 5, 9, 10, 11) if not isinstance(r, str) else
                    r.split()[:2] for r in rows])
            assert tables[0] == tables[1], args
        names = [line.split()[1] for line in ok_darse(docker, "stats", "--no-stream", "-a")[1:]]
        assert names == ["t4", "t3", "t2", "t1"]
        fmt = darse(docker, "stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}}", "t2")
        assert fmt.stdout.startswith("t2 ") and fmt.stdout.endswith(" / 64MiB\n")
    finally:
        docker.docker("rm", "-f", "t1", "t2", "t3", "t4")


def ok_darse(d: Darsed, *args: str) -> list[str]:
    done = darse(d, *args)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()
