"""A container's security settings, as a docker user meets them through darsed: what
its seccomp filter refuses and how, sysctls, devices, and execs that keep all of it."""

from __future__ import annotations

import errno
import json
import os
import stat

from tests import syscall_probe as probe
from tests.daemon import Darsed


def ok(d: Darsed, *args: str) -> str:
    done = d.docker(*args)
    assert done.returncode == 0, f"docker {' '.join(args)}: {done.stderr}"
    return done.stdout


def status_fields(text: str, *names: str) -> dict[str, str]:
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    return {n: fields[n].strip() for n in names}


def own_bounding_set() -> int:
    """The test's (root's, the daemon's) bounding set: all a privileged process may get."""
    with open("/proc/self/status") as f:
        return int(status_fields(f.read(), "CapBnd")["CapBnd"], 16)


def a_host_device() -> tuple[str, int, int]:
    """A character device of the host's /dev that no container has by default."""
    defaults = {"null", "zero", "full", "random", "urandom", "tty", "console", "ptmx"}
    for entry in sorted(os.scandir("/dev"), key=lambda e: e.name):
        st = entry.stat(follow_symlinks=False)
        if stat.S_ISCHR(st.st_mode) and entry.name not in defaults:
            return entry.path, os.major(st.st_rdev), os.minor(st.st_rdev)
    raise AssertionError("the host has no character device in /dev but the defaults")


def host_value(key: str) -> str:
    with open("/proc/sys/" + key.replace(".", "/")) as f:
        return f.read()


def set_host_value(key: str, value: str) -> None:
    with open("/proc/sys/" + key.replace(".", "/"), "w") as f:
        f.write(value)


def count_containers(d: Darsed) -> int:
    status, out = d.api("GET", "/containers/json?all=1")
    assert status == 200
    return len(json.loads(out))


# Each: the sysctl, HostConfig beside it, and dockerd's (runc's) words for the refusal.
HOST_SYSCTLS = [
    ("fs.lease-break-time", "44", {}, 'sysctl "fs.lease-break-time" is not in a separate '
     "kernel namespace"),
    ("kernel.core_pattern", "|/bin/false %p", {}, 'sysctl "kernel.core_pattern" is not in a '
     "separate kernel namespace"),
    ("kernel.hostname", "darse-test", {}, 'sysctl "kernel.hostname" is not allowed as it '
     'conflicts with the OCI "hostname" field'),
    ("vm.swappiness", "17", {}, 'sysctl "vm.swappiness" is not in a separate kernel namespace'),
    ("net.ipv4.tcp_keepalive_probes", "3", {"NetworkMode": "host"},
     'sysctl "net.ipv4.tcp_keepalive_probes" not allowed in host network namespace'),
]


def test_host_sysctls_are_refused_at_create(darsed: Darsed) -> None:
    """The container is not recorded, and the host's value stays (it changed under the
    container's init before: kernel.core_pattern would have run a program on the host)."""
    before_count = count_containers(darsed)
    for key, value, host_config, message in HOST_SYSCTLS:
        before = host_value(key)
        status, out = darsed.api("POST", "/containers/create", {
            "Image": "busybox", "Cmd": ["true"],
            "HostConfig": {"Sysctls": {key: value}, **host_config}})
        if status == 201:  # the hole: run it to see what it does to the host, then close it
            cid = json.loads(out)["Id"]
            darsed.api("POST", f"/containers/{cid}/start")
            darsed.api("POST", f"/containers/{cid}/wait")
            darsed.api("DELETE", f"/containers/{cid}?force=1")
        after = host_value(key)
        if after != before:
            set_host_value(key, before)
        assert (status, json.loads(out).get("message")) == (400, message), key
        assert after == before, key
    assert count_containers(darsed) == before_count


def test_sysctl_refusal_through_the_docker_cli(docker: Darsed) -> None:
    key = "net.ipv4.tcp_keepalive_probes"
    before = host_value(key)
    done = docker.docker("run", "--rm", "--network", "host", "--sysctl", f"{key}=3",
                         "busybox", "true")
    after = host_value(key)
    if after != before:
        set_host_value(key, before)  # the hole was open: close it again for the host's sake
    assert after == before
    assert done.returncode == 125
    assert f'Error response from daemon: sysctl "{key}" not allowed in host network ' \
           "namespace" in done.stderr
    assert ok(docker, "ps", "-aq") == ""
    inside = ok(docker, "run", "--rm", "--sysctl", f"{key}=3", "--sysctl", "kernel.shmmni=99",
                "busybox", "sh", "-c", f"cat /proc/sys/{key.replace('.', '/')} "
                "/proc/sys/kernel/shmmni")
    assert inside.split() == ["3", "99"] and host_value(key) == before


def test_default_container_is_refused_what_docker_refuses(docker: Darsed) -> None:
    calls = {"unshare": (probe.number("unshare"), 0x10000000),
             "keyctl": (probe.number("keyctl"), 0, -3, 0),
             "mount": (probe.number("mount"), 0, 0, 0, 0, 0),
             "process_vm_readv": (probe.number("process_vm_readv"), 1, 0, 0, 0, 0, 0),
             "clone3": (probe.number("clone3"), 0, 0), "getpid": (probe.number("getpid"),)}
    out = ok(docker, "run", "--rm", *probe.docker_volume(), "busybox", *probe.argv(calls))
    assert probe.parse(out) == {"unshare": errno.EPERM, "keyctl": errno.EPERM,
                                "mount": errno.EPERM, "process_vm_readv": errno.EPERM,
                                "clone3": errno.ENOSYS, "getpid": 0}
    done = docker.docker("run", "--rm", "busybox", "unshare", "-Ur", "true")
    assert done.returncode == 1 and "Operation not permitted" in done.stderr


def test_exec_keeps_the_container_security(docker: Darsed) -> None:
    ok(docker, "run", "-d", "--name", "sec", "--security-opt", "no-new-privileges",
       "--cap-drop", "NET_RAW", "--cap-add", "SYS_PTRACE", "--oom-score-adj", "321",
       "busybox", "sleep", "1000")
    # The container's process settings and its mount namespace's masked paths.
    assert ok(docker, "exec", "sec", "sh", "-c", "cat /proc/self/oom_score_adj; "
              "wc -c < /proc/timer_list").split() == ["321", "0"]
    fields = ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp")
    init = status_fields(ok(docker, "exec", "sec", "cat", "/proc/1/status"), *fields)
    mine = status_fields(ok(docker, "exec", "sec", "cat", "/proc/self/status"), *fields)
    assert init["NoNewPrivs"] == "1" and init["Seccomp"] == "2"
    assert mine == init
    done = docker.docker("exec", "sec", "unshare", "-Ur", "true")
    assert done.returncode == 1 and "Operation not permitted" in done.stderr
    # --privileged on the exec: every capability the daemon has; the rest stays.
    every = own_bounding_set()
    priv = status_fields(ok(docker, "exec", "--privileged", "sec", "cat", "/proc/self/status"),
                         *fields)
    assert int(priv["CapEff"], 16) == every == int(priv["CapBnd"], 16)
    assert (priv["NoNewPrivs"], priv["Seccomp"]) == ("1", "2")
    ok(docker, "rm", "-f", "sec")


def test_exec_as_another_user_keeps_no_new_privileges(docker: Darsed) -> None:
    ok(docker, "run", "-d", "--name", "sec2", "--user", "1000", "--security-opt",
       "no-new-privileges:true", "busybox", "sleep", "1000")
    fields = ("NoNewPrivs", "Seccomp", "CapBnd", "CapEff", "Uid")
    as_root = status_fields(ok(docker, "exec", "-u", "0", "sec2", "cat", "/proc/self/status"),
                            *fields)
    as_user = status_fields(ok(docker, "exec", "sec2", "cat", "/proc/self/status"), *fields)
    assert (as_root["NoNewPrivs"], as_user["NoNewPrivs"]) == ("1", "1")
    assert (as_root["Seccomp"], as_user["Seccomp"]) == ("2", "2")
    assert as_user["Uid"].split()[0] == "1000" and int(as_user["CapEff"], 16) == 0
    assert as_root["CapBnd"] == as_user["CapBnd"]
    ok(docker, "rm", "-f", "sec2")


def test_device_mapping(docker: Darsed) -> None:
    out = ok(docker, "run", "--rm", "--device", "/dev/null:/dev/mynull", "busybox", "sh", "-c",
             "stat -c '%F %t:%T' /dev/mynull; echo x > /dev/mynull && echo written")
    assert out.splitlines() == ["character special file 1:3", "written"]


def test_mknod_is_allowed_but_opening_the_node_is_not(docker: Darsed) -> None:
    done = docker.docker("run", "--rm", "busybox", "sh", "-c",
                         "mknod /tmp/loop b 7 0 && echo made; head -c1 /tmp/loop")
    assert done.stdout.split() == ["made"], done.stderr
    assert "Operation not permitted" in done.stderr and done.returncode == 1


def test_device_cgroup_rule(docker: Darsed) -> None:
    """c 1:2 has no driver: allowed, opening it reaches the kernel (ENXIO); not allowed,
    the cgroup answers first (EPERM)."""
    done = docker.docker("run", "--rm", "--device-cgroup-rule", "c 1:2 r", "busybox", "sh",
                         "-c", "mknod /tmp/n c 1 2; head -c1 /tmp/n; echo x > /tmp/n")
    assert "No such device or address" in done.stderr
    assert done.stderr.count("Operation not permitted") == 1, done.stderr


def test_cap_drop_all_and_audit_write(docker: Darsed) -> None:
    for drop in ("ALL", "AUDIT_WRITE"):
        done = docker.docker("run", "--rm", "--cap-drop", drop, "busybox", "true")
        assert done.returncode == 0, f"--cap-drop {drop}: {done.stderr}"


def test_privileged_gets_host_devices_and_everything(docker: Darsed) -> None:
    path, major, minor = a_host_device()
    out = ok(docker, "run", "--rm", "--privileged", "busybox", "sh", "-c",
             f"stat -c '%t:%T' {path}; grep -E '^(CapEff|Seccomp):' /proc/self/status;"
             " grep -E ' /sys | /proc/sys ' /proc/self/mounts | grep -c ' ro[ ,]' || true")
    lines = out.splitlines()
    assert lines[0] == f"{major:x}:{minor:x}"
    assert int(lines[1].split()[1], 16) == own_bounding_set()
    assert lines[2].split() == ["Seccomp:", "0"]
    assert lines[3] == "0"  # neither /sys nor /proc/sys read-only
