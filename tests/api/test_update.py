"""docker update through darsed: limits reach a running container's cgroups at once and
its record; the restart policy changes; dockerd 20.10's refusals (checked by hand), with
nothing changed by a refused update."""

from __future__ import annotations

import json
import os

from tests.cli.test_cli import darse
from tests.daemon import Darsed


def ok(d: Darsed, *args: str) -> str:
    done = d.docker(*args)
    assert done.returncode == 0, f"docker {' '.join(args)}: {done.stderr}"
    return done.stdout


def cgroup_file(pid: int, controller: str, name: str) -> str:
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            _, names, path = line.rstrip("\n").split(":", 2)
            if controller in names.split(",") or (controller == "" and names == ""):
                base = f"/sys/fs/cgroup/{controller}" if os.path.isdir(
                    f"/sys/fs/cgroup/{controller}/") and controller else "/sys/fs/cgroup"
                with open(f"{base}{path}/{name}") as g:
                    return g.read().strip()
    raise AssertionError(f"no {controller} cgroup for {pid}")


def v2() -> bool:
    return os.path.exists("/sys/fs/cgroup/cgroup.controllers")


def test_update_live_container(docker: Darsed) -> None:
    ok(docker, "run", "-d", "--name", "u1", "busybox", "sleep", "1000")
    try:
        out = ok(docker, "update", "-m", "50m", "--memory-swap", "100m", "--cpus", "0.5",
                 "--pids-limit", "100", "--cpu-shares", "512", "--restart", "on-failure:3",
                 "u1")
        assert out == "u1\n"
        hc = json.loads(ok(docker, "inspect", "u1"))[0]["HostConfig"]
        assert (hc["Memory"], hc["MemorySwap"], hc["NanoCpus"], hc["PidsLimit"],
                hc["CpuShares"]) == (52428800, 104857600, 500000000, 100, 512)
        assert hc["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
        pid = int(ok(docker, "inspect", "-f", "{{.State.Pid}}", "u1"))
        if v2():
            assert cgroup_file(pid, "", "memory.max") == "52428800"
            assert cgroup_file(pid, "", "cpu.max") == "50000 100000"
            assert cgroup_file(pid, "", "pids.max") == "100"
        else:
            assert cgroup_file(pid, "memory", "memory.limit_in_bytes") == "52428800"
            assert cgroup_file(pid, "cpu", "cpu.cfs_quota_us") == "50000"
            assert cgroup_file(pid, "cpu", "cpu.shares") == "512"
            assert cgroup_file(pid, "pids", "pids.max") == "100"
        ok(docker, "update", "-m", "80m", "u1")
        ok(docker, "update", "--pids-limit", "-1", "u1")
        hc = json.loads(ok(docker, "inspect", "u1"))[0]["HostConfig"]
        assert (hc["Memory"], hc["PidsLimit"]) == (83886080, 0)
        assert cgroup_file(pid, "" if v2() else "pids", "pids.max") == "max"
        # darse's CLI does the same
        done = darse(docker, "update", "--cpus", "0.25", "-m", "60m", "u1")
        assert (done.returncode, done.stdout) == (0, "u1\n"), done.stderr
        if not v2():
            assert cgroup_file(pid, "cpu", "cpu.cfs_quota_us") == "25000"
            assert cgroup_file(pid, "memory", "memory.limit_in_bytes") == "62914560"
        status, body = docker.api("POST", "/containers/u1/update", {"CpuShares": 256})
        assert (status, json.loads(body)) == (200, {"Warnings": None})
    finally:
        docker.docker("rm", "-f", "u1")


def test_memory_swap_default(docker: Darsed) -> None:
    """As dockerd: -m alone allows as much swap (MemorySwap = 2 x Memory), so that a later
    update of -m alone passes (docker-py's test_update_container does that)."""
    ok(docker, "create", "--name", "ms", "-m", "400m", "busybox")
    ok(docker, "create", "--name", "ms2", "-m", "400m", "--memory-swap", "-1", "busybox")
    try:
        assert ok(docker, "inspect", "-f", "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}}",
                  "ms") == "419430400 838860800\n"
        assert ok(docker, "update", "-m", "300m", "ms") == "ms\n"
        bad = docker.docker("update", "-m", "300m", "ms2")
        assert "Memory limit should be smaller than already set memoryswap limit" in bad.stderr
    finally:
        docker.docker("rm", "ms", "ms2")


def test_update_refusals(docker: Darsed) -> None:
    ok(docker, "run", "-d", "--name", "u2", "busybox", "sleep", "1000")
    ok(docker, "run", "-d", "--rm", "--name", "u3", "busybox", "sleep", "1000")
    try:
        cid = ok(docker, "inspect", "-f", "{{.Id}}", "u2").strip()
        before = json.loads(ok(docker, "inspect", "u2"))[0]["HostConfig"]
        cases = [
            (("-m", "4m"), "Minimum memory limit allowed is 6MB"),
            (("-m", "50m"), f"Cannot update container {cid}: Memory limit should be smaller "
                            "than already set memoryswap limit, update the memoryswap at the "
                            "same time"),
            (("--restart", "bogus"), "invalid restart policy 'bogus'"),
            (("--cpus", "0.5", "--cpu-quota", "1000"),
             "Conflicting options: Nano CPUs and CPU Quota cannot both be set"),
        ]
        for flags, message in cases:
            for cli in ("docker", "darse"):
                done = docker.docker("update", *flags, "u2") if cli == "docker" else \
                    darse(docker, "update", *flags, "u2")
                assert (done.returncode, done.stderr) == (
                    1, f"Error response from daemon: {message}\n"), (cli, flags)
        assert json.loads(ok(docker, "inspect", "u2"))[0]["HostConfig"] == before
        rid = ok(docker, "inspect", "-f", "{{.Id}}", "u3").strip()
        done = docker.docker("update", "--restart", "always", "u3")
        assert done.stderr == (f"Error response from daemon: Cannot update container {rid}: "
                               "Restart policy cannot be updated because AutoRemove is "
                               "enabled for the container\n")
        done = docker.docker("update", "-m", "10m", "nosuch")
        assert done.stderr == "Error response from daemon: No such container: nosuch\n"
        for cli in ("docker", "darse"):
            done = docker.docker("update", "-m", "abc", "u2") if cli == "docker" else \
                darse(docker, "update", "-m", "abc", "u2")
            assert done.returncode == 125
            assert done.stderr.startswith('invalid argument "abc" for "-m, --memory" flag: '
                                          "invalid size: 'abc'\n"), (cli, done.stderr)
        done = darse(docker, "update", "u2")
        assert (done.returncode, done.stderr) == (
            1, "you must provide one or more flags when using this command\n")
        # A stopped container takes new limits for its next start.
        ok(docker, "stop", "-t", "0", "u2")
        ok(docker, "update", "-m", "64m", "--memory-swap", "128m", "u2")
        ok(docker, "start", "u2")
        pid = int(ok(docker, "inspect", "-f", "{{.State.Pid}}", "u2"))
        if not v2():
            assert cgroup_file(pid, "memory", "memory.limit_in_bytes") == str(64 << 20)
    finally:
        docker.docker("rm", "-f", "u2", "u3")
