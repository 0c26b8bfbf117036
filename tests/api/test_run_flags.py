"""run/create flags beyond the first ones, through the docker CLI and darse's against
darsed: limits reach the container's cgroups and process, namespace modes, --cidfile,
--label-file, --log-driver; refusals in dockerd 20.10's and the docker CLI's words
(checked side by side with a private dockerd)."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.cli.test_cli import darse
from tests.daemon import Darsed

CLIS = ("docker", "darse")


def run(d: Darsed, cli: str, *args: str) -> subprocess.CompletedProcess:
    return d.docker(*args) if cli == "docker" else darse(d, *args)


def ok(d: Darsed, cli: str, *args: str) -> str:
    done = run(d, cli, *args)
    assert done.returncode == 0, f"{cli} {' '.join(args)}: {done.stderr}"
    return done.stdout


def cgroup_file(pid: int, controller: str, name: str) -> str:
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            _, names, path = line.rstrip("\n").split(":", 2)
            if controller in names.split(","):
                with open(f"/sys/fs/cgroup/{controller}{path}/{name}") as g:
                    return g.read().strip()
    raise AssertionError(f"no {controller} cgroup for {pid}")


def block_device() -> str:
    for name in sorted(os.listdir("/sys/block")):
        if not name.startswith(("loop", "zram", "ram")) and os.path.exists(f"/dev/{name}"):
            return f"/dev/{name}"
    pytest.fail("no block device on this host")  # every darse host has a disk


v1 = not os.path.exists("/sys/fs/cgroup/cgroup.controllers")


@pytest.mark.parametrize("cli", CLIS)
def test_limits_reach_cgroups_and_process(docker: Darsed, cli: str) -> None:
    dev = block_device()
    major_minor = f"{os.major(os.stat(dev).st_rdev)}:{os.minor(os.stat(dev).st_rdev)}"
    name = f"lim-{cli}"
    ok(docker, cli, "run", "-d", "--name", name, "--cpu-period", "50000", "--cpu-quota",
       "25000", "--cpuset-cpus", "0", "--cpuset-mems", "0", "-m", "64m",
       "--memory-reservation", "32m", "--memory-swap", "128m", "--memory-swappiness", "10",
       "--oom-kill-disable", "--oom-score-adj", "100", "--ulimit", "nofile=100:200",
       "--device-read-bps", f"{dev}:1mb", "--device-write-iops", f"{dev}:50", "busybox",
       "sleep", "100")
    try:
        assert ok(docker, cli, "exec", name, "sh", "-c", "ulimit -n; ulimit -Hn; "
                  "cat /proc/self/oom_score_adj").split() == ["100", "200", "100"]
        pid = int(ok(docker, cli, "inspect", "-f", "{{.State.Pid}}", name))
        if v1:
            assert cgroup_file(pid, "cpu", "cpu.cfs_period_us") == "50000"
            assert cgroup_file(pid, "cpu", "cpu.cfs_quota_us") == "25000"
            assert cgroup_file(pid, "cpuset", "cpuset.cpus") == "0"
            assert cgroup_file(pid, "memory", "memory.soft_limit_in_bytes") == "33554432"
            assert cgroup_file(pid, "memory", "memory.swappiness") == "10"
            assert "oom_kill_disable 1" in cgroup_file(pid, "memory", "memory.oom_control")
            assert cgroup_file(pid, "blkio", "blkio.throttle.read_bps_device") == \
                f"{major_minor} 1048576"
            assert cgroup_file(pid, "blkio", "blkio.throttle.write_iops_device") == \
                f"{major_minor} 50"
        import json

        hc = json.loads(ok(docker, cli, "inspect", name))[0]["HostConfig"]
        assert (hc["CpuPeriod"], hc["CpuQuota"], hc["CpusetCpus"], hc["MemoryReservation"],
                hc["MemorySwappiness"], hc["OomKillDisable"], hc["OomScoreAdj"],
                hc["Ulimits"]) == (50000, 25000, "0", 33554432, 10, True, 100,
                                   [{"Name": "nofile", "Hard": 200, "Soft": 100}])
        assert hc["BlkioDeviceReadBps"] == [{"Path": dev, "Rate": 1048576}]
    finally:
        run(docker, cli, "rm", "-f", name)


@pytest.mark.parametrize("cli", CLIS)
def test_namespace_modes(docker: Darsed, cli: str) -> None:
    def ns(*args: str) -> list[str]:
        return ok(docker, cli, "run", "--rm", *args, "busybox", "sh", "-c",
                  "hostname; for n in pid ipc uts cgroup; do readlink /proc/self/ns/$n; "
                  "done").split()

    host = [os.uname().nodename] + [os.readlink(f"/proc/self/ns/{n}")
                                    for n in ("pid", "ipc", "uts", "cgroup")]
    private = ns("--cgroupns", "private")
    assert all(a != b for a, b in zip(private, host, strict=True))
    assert ns("--pid", "host")[1] == host[1]
    assert ns("--ipc", "host")[2] == host[2]
    got = ns("--uts", "host")
    assert got[0] == host[0] and got[3] == host[3]
    assert ns("--cgroupns", "host")[4] == host[4]
    name = f"ns-{cli}"
    ok(docker, cli, "run", "-d", "--name", name, "busybox", "sleep", "100")
    try:
        theirs = ok(docker, cli, "exec", name, "readlink", "/proc/self/ns/pid").strip()
        mine = ns("--pid", f"container:{name}", "--ipc", f"container:{name}")
        assert mine[1] == theirs
        assert mine[2] == ok(docker, cli, "exec", name, "readlink", "/proc/self/ns/ipc").strip()
        # The other's processes are in sight.
        assert "sleep 100" in ok(docker, cli, "run", "--rm", "--pid", f"container:{name}",
                                 "busybox", "ps")
    finally:
        run(docker, cli, "rm", "-f", name)


@pytest.mark.parametrize("cli", CLIS)
def test_cidfile_label_file_log_driver(docker: Darsed, cli: str, tmp_path) -> None:
    cidfile = tmp_path / "cid"
    labels = tmp_path / "labels"
    labels.write_text("# a comment\na=1\n\nb=two words\n")
    cid = ok(docker, cli, "run", "-d", "--cidfile", str(cidfile), "--label-file", str(labels),
             "-l", "b=flag", "--log-driver", "none", "busybox", "true").strip()
    try:
        assert cidfile.read_text() == cid
        assert ok(docker, cli, "inspect", "-f", "{{json .Config.Labels}} {{.HostConfig."
                  "LogConfig.Type}} {{.HostConfig.ContainerIDFile}}", cid).strip() == \
            f'{{"a":"1","b":"flag"}} none {cidfile}'
        again = run(docker, cli, "run", "--cidfile", str(cidfile), "busybox", "true")
        assert again.returncode == 125
        assert "container ID file found, make sure the other container isn't running or " \
               f"delete {cidfile}" in again.stderr
        # -q (newer docker CLIs' run; not 20.10's), --sig-proxy, --disable-content-trust,
        # --volume-driver: accepted as by docker.
        quiet = ["-q"] if cli == "darse" else []
        assert ok(docker, cli, "run", "--rm", *quiet, "--sig-proxy=false",
                  "--disable-content-trust", "--volume-driver", "local", "busybox",
                  "echo", "hi") == "hi\n"
    finally:
        run(docker, cli, "rm", "-f", cid)


REFUSED = [
    (["--isolation", "hyperv"], "Invalid isolation: \"hyperv\" - linux only supports "
                                "'default'"),
    (["--gpus", "all"], 'could not select device driver "" with capabilities: [[gpu]]'),
    (["--storage-opt", "size=1G"], "--storage-opt is supported only for overlay over xfs "
                                   "with 'pquota' mount option"),
    (["--cpuset-cpus", "7"], "Requested CPUs are not available - requested 7, available: "),
    (["--cpuset-mems", "5"], "Requested memory nodes are not available - requested 5, "
                             "available: 0"),
    (["--oom-score-adj", "2000"], "Invalid value 2000, range for oom score adj is "
                                  "[-1000, 1000]"),
    (["--ipc", "foo"], "Invalid IPC mode: foo"),
    (["--memory-swappiness", "200"], "invalid value: 200. Valid memory swappiness range is "
                                     "0-100"),
    (["--ulimit", "nofile=a"], 'invalid argument "nofile=a" for "--ulimit" flag: '
                               'strconv.ParseInt: parsing "a": invalid syntax'),
    (["--ulimit", "nofile=200:100"], "ulimit soft limit must be less than or equal to hard "
                                     "limit: 200 > 100"),
    (["--device-read-bps", "foo"], 'invalid argument "foo" for "--device-read-bps" flag: '
                                   "bad format: foo"),
    (["--pid", "foo"], "--pid: invalid PID mode"),
    (["--uts", "foo"], "--uts: invalid UTS mode"),
    (["--userns", "foo"], "--userns: invalid USER mode"),
    (["--cgroupns", "foo"], "--cgroupns: invalid CGROUP mode"),
    (["--label-file", "/nonexistent"], "open /nonexistent: no such file or directory"),
]


@pytest.mark.parametrize("cli", CLIS)
def test_refused_in_dockers_words(docker: Darsed, cli: str) -> None:
    before = ok(docker, cli, "ps", "-aq")
    for flags, message in REFUSED:
        done = run(docker, cli, "run", "--rm", *flags, "busybox", "true")
        assert done.returncode == 125, (flags, done.stderr)
        assert message in done.stderr, (flags, done.stderr)
    assert ok(docker, cli, "ps", "-aq") == before  # nothing recorded


@pytest.mark.parametrize("cli", CLIS)
def test_mac_address(docker: Darsed, cli: str) -> None:
    mac = "02:42:ac:11:00:99" if cli == "docker" else "02:42:ac:11:00:98"
    out = ok(docker, cli, "run", "--rm", "--mac-address", mac, "busybox", "cat",
             "/sys/class/net/eth0/address")
    assert out == f"{mac}\n"
    cid = ok(docker, cli, "run", "-d", "--mac-address", mac, "busybox", "sleep", "100").strip()
    try:
        assert ok(docker, cli, "inspect", "-f", "{{.NetworkSettings.MacAddress}} "
                  "{{.Config.MacAddress}}", cid).split() == [mac, mac]
    finally:
        run(docker, cli, "rm", "-f", cid)
    done = run(docker, cli, "run", "--rm", "--mac-address", "zz", "busybox", "true")
    assert done.returncode == 125 and "zz is not a valid mac address" in done.stderr


@pytest.mark.parametrize("cli", CLIS)
def test_legacy_links(docker: Darsed, cli: str) -> None:
    db, web = f"lk-db-{cli}", f"lk-web-{cli}"
    ok(docker, cli, "run", "-d", "--name", db, "-e", "SECRET=s3", "--expose", "5432",
       "busybox", "sleep", "100")
    try:
        ip = ok(docker, cli, "inspect", "-f", "{{.NetworkSettings.IPAddress}}", db).strip()
        hostname = ok(docker, cli, "inspect", "-f", "{{.Config.Hostname}}", db).strip()
        out = ok(docker, cli, "run", "--name", web, "--link", f"{db}:db", "busybox", "sh",
                 "-c", "cat /etc/hosts; env")
        assert f"{ip}\tdb {hostname} {db}" in out.splitlines()
        env = set(out.splitlines())
        assert {f"DB_NAME=/{web}/db", f"DB_PORT=tcp://{ip}:5432",
                f"DB_PORT_5432_TCP=tcp://{ip}:5432", f"DB_PORT_5432_TCP_ADDR={ip}",
                "DB_PORT_5432_TCP_PORT=5432", "DB_PORT_5432_TCP_PROTO=tcp",
                "DB_ENV_SECRET=s3"} <= env
        assert not any(e.startswith("DB_ENV_PATH=") for e in env)
        assert ok(docker, cli, "inspect", "-f", "{{json .HostConfig.Links}}", web).strip() == \
            f'["/{db}:/{web}/db"]'
        # An exec sees them too (dockerd's).
        ok(docker, cli, "start", web)
        ok(docker, cli, "run", "-d", "--name", f"{web}-2", "--link", db, "busybox", "sleep",
           "100")
        exec_env = ok(docker, cli, "exec", f"{web}-2", "env").splitlines()
        alias = db.upper().replace("-", "_")
        assert f"{alias}_NAME=/{web}-2/{db}" in exec_env
        assert f"{alias}_ENV_SECRET=s3" in exec_env
        # rm --link PARENT/ALIAS: the parent forgets it; both containers stay.
        assert ok(docker, cli, "rm", "--link", f"{web}-2/{db}").strip() == f"{web}-2/{db}"
        assert ok(docker, cli, "inspect", "-f", "{{json .HostConfig.Links}}",
                  f"{web}-2").strip() == "null"
        for gone in (f"{web}-2/{db}", f"{web}-2/nope", "nope/x"):
            done = run(docker, cli, "rm", "--link", gone)
            assert (done.returncode, done.stderr) == (1, f"Error: No such container: {gone}\n")
        done = run(docker, cli, "rm", "--link", db)
        assert "cannot remove the default link name of the container" in done.stderr
        assert ok(docker, cli, "inspect", "-f", "{{.State.Running}}", db, f"{web}-2") == \
            "true\ntrue\n"
        run(docker, cli, "rm", "-f", f"{web}-2")
        done = run(docker, cli, "run", "--rm", "--link", "nope:x", "busybox", "true")
        assert done.returncode == 125
        assert "could not get container for nope: No such container: nope" in done.stderr
        run(docker, cli, "stop", "-t", "0", db)
        done = run(docker, cli, "run", "--rm", "--name", "lk-other", "--link", f"{db}:db",
                   "busybox", "true")
        assert f"Cannot link to a non running container: /{db} AS /lk-other/db" in done.stderr
    finally:
        run(docker, cli, "rm", "-f", web, db)


@pytest.mark.parametrize("cli", CLIS)
def test_cgroup_parent(docker: Darsed, cli: str) -> None:
    parent = f"darse-test-parent-{cli}"
    cid = ok(docker, cli, "run", "-d", "--cgroup-parent", parent, "busybox", "sleep", "100"
             ).strip()
    try:
        pid = int(ok(docker, cli, "inspect", "-f", "{{.State.Pid}}", cid))
        with open(f"/proc/{pid}/cgroup") as f:
            paths = {line.rstrip("\n").split(":", 2)[2] for line in f}
        assert f"/{parent}/{cid}" in paths, paths
        assert ok(docker, cli, "inspect", "-f", "{{.HostConfig.CgroupParent}}", cid) == \
            f"{parent}\n"
    finally:
        run(docker, cli, "rm", "-f", cid)
        for controller in os.listdir("/sys/fs/cgroup"):
            path = f"/sys/fs/cgroup/{controller}/{parent}"
            if os.path.isdir(path):
                os.rmdir(path)  # the parent is the user's to remove, as with dockerd


@pytest.mark.parametrize("cli", CLIS)
def test_create_warnings_as_dockerd(docker: Darsed, cli: str) -> None:
    done = run(docker, cli, "run", "--rm", "--kernel-memory", "10m", "--oom-kill-disable",
               "busybox", "echo", "ran")
    assert done.returncode == 0 and done.stdout == "ran\n", done.stderr
    assert "WARNING: Specifying a kernel memory limit is deprecated and will be removed in " \
           "a future release." in done.stderr
    assert "WARNING: OOM killer is disabled for the container, but no memory limit is set, " \
           "this can result in the system running out of resources." in done.stderr


@pytest.mark.parametrize("cli", CLIS)
def test_link_on_user_defined_network(docker: Darsed, cli: str) -> None:
    net, db = f"lknet-{cli}", f"lkn-db-{cli}"
    ok(docker, cli, "network", "create", net)
    try:
        # dockerd: nothing is asked of the linked container at create on such a network.
        cid = ok(docker, cli, "create", "--network", net, "--link", "nope:x", "busybox",
                 "true").strip()
        run(docker, cli, "rm", cid)
        ok(docker, cli, "run", "-d", "--name", db, "--network", net, "busybox", "sleep", "100")
        ip = ok(docker, cli, "inspect", "-f", "{{range .NetworkSettings.Networks}}"
                "{{.IPAddress}}{{end}}", db).strip()
        out = ok(docker, cli, "run", "--rm", "--network", net, "--link", f"{db}:dbalias",
                 "busybox", "nslookup", "dbalias")
        assert ip in out, out
        # The alias is the linking container's only.
        other = run(docker, cli, "run", "--rm", "--network", net, "busybox", "nslookup",
                    "dbalias")
        assert ip not in other.stdout
    finally:
        run(docker, cli, "rm", "-f", db)
        run(docker, cli, "network", "rm", net)
