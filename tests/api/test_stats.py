"""docker stats through darsed: the API's records (one-shot, two readings, a stream, a
container that does not run) and the tables docker's CLI and darse's print from them."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

from tests.cli.test_cli import darse
from tests.daemon import DOCKER, Darsed

ROW = re.compile(r"^([0-9a-f]{12})\s+(\S+)\s+(\d+\.\d\d)%\s+(\S+) / (\S+)\s+(\d+\.\d\d)%\s+"
                 r"(\S+) / (\S+)\s+(\S+) / (\S+)\s+(\d+)$")
HEADER = ("CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT   MEM %     NET I/O         "
          "BLOCK I/O   PIDS")


def ok(d: Darsed, *args: str) -> str:
    done = d.docker(*args)
    assert done.returncode == 0, f"docker {' '.join(args)}: {done.stderr}"
    return done.stdout


def test_stats_api(docker: Darsed) -> None:
    ok(docker, "run", "-d", "--name", "busy", "-m", "80m", "--memory-swap", "100m", "busybox",
       "sh", "-c", "while true; do :; done")
    ok(docker, "create", "--name", "idle", "busybox")
    try:
        status, body = docker.api("GET", "/containers/busy/stats?stream=false&one-shot=true")
        one = json.loads(body)
        assert status == 200 and one["preread"] == "0001-01-01T00:00:00Z"
        assert one["name"] == "/busy" and one["pids_stats"]["current"] == 1
        assert one["memory_stats"]["limit"] == 80 << 20 and one["memory_stats"]["usage"] > 0
        assert "eth0" in one["networks"]
        status, body = docker.api("GET", "/containers/busy/stats?stream=false")
        two = json.loads(body)
        assert two["preread"] != "0001-01-01T00:00:00Z"
        used = two["cpu_stats"]["cpu_usage"]["total_usage"] - \
            two["precpu_stats"]["cpu_usage"]["total_usage"]
        assert used > 50_000_000  # the busy loop had its share of the second between
        status, body = docker.api("GET", "/containers/idle/stats?stream=false")
        zero = json.loads(body)
        assert (zero["read"], zero["memory_stats"], zero["pids_stats"]) == (
            "0001-01-01T00:00:00Z", {}, {})
        status, body = docker.api("GET", "/containers/nosuch/stats?stream=false")
        assert (status, json.loads(body)) == (404, {"message": "No such container: nosuch"})
        # The stream: a record a second, each with the one before as precpu.
        proc = subprocess.Popen(["curl", "-sN", "--unix-socket", docker.sock,
                                 "http://d/containers/busy/stats"], stdout=subprocess.PIPE)
        lines = [json.loads(proc.stdout.readline()) for _ in range(3)]
        proc.kill()
        proc.wait()
        assert lines[1]["preread"] == lines[0]["read"] and lines[2]["preread"] == lines[1]["read"]
    finally:
        docker.docker("rm", "-f", "busy", "idle")


def test_stats_tables(docker: Darsed) -> None:
    ok(docker, "run", "-d", "--name", "s1", "-m", "80m", "--memory-swap", "100m", "busybox",
       "sleep", "1000")
    ok(docker, "create", "--name", "s3", "busybox")
    try:
        for cli in ("docker", "darse"):
            def run(*args: str, cli: str = cli) -> subprocess.CompletedProcess:
                return docker.docker(*args) if cli == "docker" else darse(docker, *args)

            out = run("stats", "--no-stream", "-a").stdout.splitlines()
            assert out[0] == HEADER or out[0].split() == HEADER.split(), (cli, out)
            rows = {m.group(2): m.groups() for m in map(ROW.match, out[1:]) if m}
            assert set(rows) == {"s1", "s3"}, (cli, out)
            assert rows["s1"][4] == "80MiB" and rows["s1"][10] == "1"
            assert rows["s3"][3:] == ("0B", "0B", "0.00", "0B", "0B", "0B", "0B", "0")
            assert run("stats", "--no-stream").stdout.count("\n") == 2  # running only
            fmt = run("stats", "--no-stream", "--format", "{{.Name}}: {{.PIDs}}", "s1")
            assert fmt.stdout == "s1: 1\n"
            bad = run("stats", "--no-stream", "nosuch", "s1")
            assert (bad.returncode, bad.stdout, bad.stderr) == (
                1, "", "Error response from daemon: No such container: nosuch\n"), cli
        # The live table: redrawn each second, until interrupted.
        env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.dirname(
            os.path.abspath(__file__)))))
        proc = subprocess.Popen([sys.executable, "-m", "darse.cli", "-H", docker.host,
                                 "stats", "s1"], stdout=subprocess.PIPE, env=env)
        time.sleep(2.6)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=10)
        frames = out.decode().split("\033[2J\033[H")[1:]
        assert len(frames) >= 2 and proc.returncode == 0
        assert frames[-1].splitlines()[0].split() == HEADER.split()
        assert ROW.match(frames[-1].splitlines()[1]).group(2) == "s1"
        assert DOCKER is not None
    finally:
        docker.docker("rm", "-f", "s1", "s3")
