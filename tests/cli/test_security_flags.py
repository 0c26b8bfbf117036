"""darse run's --device, --device-cgroup-rule, --sysctl and --privileged: the docker
CLI's parsing and refusals, then what the container gets."""

from __future__ import annotations

import pytest

from tests.api.test_security import host_value, set_host_value
from tests.cli.test_cli import darse, ok
from tests.daemon import Darsed

# (flags, the docker CLI's message) for values it refuses before calling the daemon
# (docker 20.10's words; the ones found after parsing start with the program's name).
REFUSED = [
    (["--device", ":/x"], "darse: bad format for path: :/x."),
    (["--device", "a:b:c:d"], "darse: bad format for path: a:b:c:d."),
    (["--device", "/dev/null:rel"], "darse: rel is not an absolute path."),
    (["--device", "/dev/null:/x:rwx"], "darse: bad mode specified: rwx."),
    (["--device-cgroup-rule", "c 1:3 rwx"], 'invalid argument "c 1:3 rwx" for '
     "\"--device-cgroup-rule\" flag: invalid device cgroup format 'c 1:3 rwx'"),
    (["--device-cgroup-rule", "a"], 'invalid argument "a" for "--device-cgroup-rule" flag: '
     "invalid device cgroup format 'a'"),
    (["--sysctl", "fs.lease-break-time=44"], 'invalid argument "fs.lease-break-time=44" for '
     "\"--sysctl\" flag: sysctl 'fs.lease-break-time=44' is not whitelisted"),
    (["--sysctl", "kernel.hostname=x"], 'invalid argument "kernel.hostname=x" for '
     "\"--sysctl\" flag: sysctl 'kernel.hostname=x' is not whitelisted"),
    (["--sysctl", "net.ipv4.ip_forward"], 'invalid argument "net.ipv4.ip_forward" for '
     "\"--sysctl\" flag: sysctl 'net.ipv4.ip_forward' is not whitelisted"),
]


@pytest.mark.parametrize("flags,message", REFUSED, ids=[" ".join(f) for f, _ in REFUSED])
def test_refused_flags(darsed: Darsed, flags: list[str], message: str) -> None:
    keys = [f.partition("=")[0] for f in flags[1:] if flags[0] == "--sysctl" and "=" in f]
    before = {k: host_value(k) for k in keys}
    done = darse(darsed, "run", "--rm", *flags, "busybox", "true")
    for key, value in before.items():
        if host_value(key) != value:
            set_host_value(key, value)  # the hole was open: close it for the host's sake
            raise AssertionError(f"{key} was changed on the host")
    assert done.returncode == 125
    assert done.stderr.splitlines()[0] == message
    assert ok(darsed, "ps", "-aq") == ""


def test_devices_rules_and_sysctls_reach_the_container(darsed: Darsed) -> None:
    out = ok(darsed, "run", "--rm", "--device", "/dev/null:/dev/mynull", "--device",
             "/dev/zero:/dev/myzero:r", "--device-cgroup-rule", "c 1:2 r",
             "--sysctl", "net.ipv4.tcp_keepalive_probes=4", "busybox", "sh", "-c",
             "stat -c '%n %t:%T' /dev/mynull /dev/myzero; "
             "cat /proc/sys/net/ipv4/tcp_keepalive_probes; "
             "mknod /tmp/n c 1 2; head -c1 /tmp/n 2>&1; { echo x > /tmp/n; } 2>&1; true")
    assert out.splitlines() == ["/dev/mynull 1:3", "/dev/myzero 1:5", "4",
                                "head: /tmp/n: No such device or address",
                                "sh: can't create /tmp/n: Operation not permitted"]


def test_a_missing_device_is_refused_at_create(darsed: Darsed) -> None:
    done = darse(darsed, "run", "--rm", "--device", "/dev/nosuch", "busybox", "true")
    assert done.returncode == 125
    assert ('Error response from daemon: error gathering device information while adding '
            'custom device "/dev/nosuch": no such file or directory') in done.stderr
    assert ok(darsed, "ps", "-aq") == ""


def test_privileged(darsed: Darsed) -> None:
    out = ok(darsed, "run", "--rm", "--privileged", "busybox", "sh", "-c",
             "grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status; ls /dev | wc -l")
    lines = out.split()
    assert lines[:4] == ["NoNewPrivs:", "0", "Seccomp:", "0"]
    assert int(lines[4]) > 20  # the host's devices, not the container's dozen
