"""Capabilities, no_new_privs, seccomp and the user's identity really apply."""

from __future__ import annotations

import errno
import os

import pytest

from darse.engine import spec as engine_spec
from darse.runtime import seccomp
from darse.runtime.capabilities import NUMBERS
from tests import syscall_probe as probe
from tests.runtime.conftest import Runtime

TMP = {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["mode=1777"]}
DOCKER_CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
               "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
               "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"]


def caps(names: list[str]) -> dict:
    return {k: names for k in ("bounding", "effective", "permitted")}


def mounts_with_tmp(runtime: Runtime) -> list[dict]:
    from darse.runtime import spec

    return spec.default()["mounts"] + [TMP]


def test_mknod_needs_cap_mknod(runtime: Runtime) -> None:
    script = "mknod /tmp/null c 1 3 && echo made"
    without = runtime.run(["sh", "-c", script], mounts=mounts_with_tmp(runtime))
    assert without.returncode != 0 and "Operation not permitted" in without.stderr
    with_cap = runtime.run(["sh", "-c", script], mounts=mounts_with_tmp(runtime),
                           process_capabilities=caps(["CAP_MKNOD"]))
    assert with_cap.stdout.strip() == "made", with_cap.stderr


def test_capability_sets_are_exact(runtime: Runtime) -> None:
    names = ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_CHOWN"]
    sets = {"bounding": names, "effective": names[:2], "permitted": names,
            "inheritable": names[:1], "ambient": names[:1]}
    done = runtime.run(["grep", "^Cap", "/proc/self/status"], process_capabilities=sets)
    got = {line.split(":")[0]: int(line.split()[1], 16) for line in done.stdout.splitlines()}

    def mask(ns: list[str]) -> int:
        return sum(1 << NUMBERS[n] for n in ns)

    # After exec as root, effective = permitted (the kernel's rule for uid 0).
    assert got["CapBnd"] == mask(names)
    assert got["CapPrm"] == mask(names)
    assert got["CapInh"] == mask(names[:1])
    assert got["CapAmb"] == mask(names[:1])


def test_non_root_user_keeps_only_ambient_caps(runtime: Runtime) -> None:
    done = runtime.run(["sh", "-c", "id; grep -E '^Cap(Eff|Amb)' /proc/self/status"],
                       process_user={"uid": 1000, "gid": 1000, "additionalGids": [5, 7]},
                       process_capabilities={**caps(["CAP_KILL", "CAP_CHOWN"]),
                                             "inheritable": ["CAP_KILL"],
                                             "ambient": ["CAP_KILL"]})
    lines = done.stdout.splitlines()
    assert lines[0].startswith("uid=1000 gid=1000 groups=5(tty),7")
    assert int(lines[1].split()[1], 16) == 1 << NUMBERS["CAP_KILL"]


def test_no_new_privileges(runtime: Runtime) -> None:
    on = runtime.run(["grep", "NoNewPrivs", "/proc/self/status"])
    off = runtime.run(["grep", "NoNewPrivs", "/proc/self/status"], process_noNewPrivileges=False)
    assert on.stdout.split()[1] == "1" and off.stdout.split()[1] == "0"


def test_seccomp_blocks_listed_syscalls_and_conditions(runtime: Runtime) -> None:
    profile = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
            {"names": ["chmod"], "action": "SCMP_ACT_ERRNO",
             "args": [{"index": 1, "value": 0o777, "op": "SCMP_CMP_EQ"}]},
            {"names": ["fchmodat"], "action": "SCMP_ACT_ERRNO",
             "args": [{"index": 2, "value": 0o777, "op": "SCMP_CMP_EQ"}]},
        ],
    }
    done = runtime.run(["sh", "-c", "touch /tmp/f; chmod 755 /tmp/f && echo chmod-755-ok; "
                        "chmod 777 /tmp/f || echo chmod-777-refused; mkdir /tmp/d"],
                       mounts=mounts_with_tmp(runtime), linux_seccomp=profile)
    assert "chmod-755-ok" in done.stdout and "chmod-777-refused" in done.stdout
    assert "Operation not permitted" in done.stderr and done.returncode != 0


def test_docker_default_profile_loads_and_blocks(runtime: Runtime) -> None:
    profile = engine_spec.seccomp_profile({}, DOCKER_CAPS)
    # CAP_SYS_ADMIN granted, so only seccomp can refuse sethostname (the profile allows it
    # only to containers that have the capability, and was resolved for Docker's defaults).
    granted = caps([*DOCKER_CAPS, "CAP_SYS_ADMIN"])
    script = "hostname renamed && echo hostname-ok; echo alive"
    free = runtime.run(["sh", "-c", script], process_capabilities=granted)
    assert "hostname-ok" in free.stdout, free.stderr
    filtered = runtime.run(["sh", "-c", script], process_capabilities=granted,
                           linux_seccomp=profile)
    assert filtered.stdout.split() == ["alive"], filtered.stderr
    assert "Operation not permitted" in filtered.stderr




def highest_named(profile: dict) -> int:
    """The highest call number of this machine's architecture that the profile names."""
    lib = seccomp._libseccomp()
    names = {n for rule in profile["syscalls"] for n in rule["names"]}
    return max(lib.seccomp_syscall_resolve_name(n.encode()) for n in names)


def test_default_profile_refuses_as_docker_does(runtime: Runtime) -> None:
    """The profile darsed gives a default container refuses what Docker's does, with
    EPERM (Podman's let unshare -Ur, keyctl, mount and process_vm_readv through, and
    answered ENOSYS); calls newer than the profile get ENOSYS, as runc's stub makes them,
    so that programs fall back to older ones."""
    profile = engine_spec.seccomp_profile({}, DOCKER_CAPS)
    top = highest_named(profile)
    calls = {"keyctl": (probe.number("keyctl"), 0, -3, 0),
             "unshare": (probe.number("unshare"), 0x10000000),
             "mount": (probe.number("mount"), 0, 0, 0, 0, 0),
             "process_vm_readv": (probe.number("process_vm_readv"), 1, 0, 0, 0, 0, 0),
             "add_key": (probe.number("add_key"), 0, 0, 0, 0, 0),
             "clone3": (probe.number("clone3"), 0, 0),
             "getpid": (probe.number("getpid"),),
             "newer": (top + 1,), "far": (top + 500,)}
    done = runtime.run(probe.argv(calls), process_capabilities=caps(DOCKER_CAPS),
                       mounts=mounts_with_tmp(runtime) + [probe.oci_mount()],
                       linux_seccomp=profile)
    assert done.returncode == 0, done.stderr
    assert probe.parse(done.stdout) == {
        "keyctl": errno.EPERM, "unshare": errno.EPERM, "mount": errno.EPERM,
        "process_vm_readv": errno.EPERM, "add_key": errno.EPERM, "clone3": errno.ENOSYS,
        "getpid": 0, "newer": errno.ENOSYS, "far": errno.ENOSYS}
    unshare = runtime.run(["unshare", "-Ur", "true"], process_capabilities=caps(DOCKER_CAPS),
                          linux_seccomp=profile)
    assert unshare.returncode != 0 and "Operation not permitted" in unshare.stderr


# What perl needs to start and make its calls under a deny-by-default filter.
ALLOW_FOR_PERL = [
    "execve", "brk", "mmap", "munmap", "mprotect", "arch_prctl", "set_tid_address",
    "set_robust_list", "rseq", "prlimit64", "openat", "open", "read", "pread64", "write",
    "close", "fstat", "newfstatat", "stat", "lstat", "access", "faccessat", "faccessat2",
    "readlink", "readlinkat", "getrandom", "rt_sigaction", "rt_sigprocmask", "getuid",
    "geteuid", "getgid", "getegid", "ioctl", "lseek", "fcntl", "exit_group", "exit",
    "futex", "sigaltstack", "getpid", "getppid", "uname", "statx", "capget", "capset",
    "prctl", "setgroups", "setresuid", "setresgid", "chdir", "getcwd", "umask", "dup2",
    "dup3", "seccomp", "fchdir", "getdents64", "sysinfo", "clock_gettime", "gettid"]
X86 = ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]


def test_rule_errno_defaults_to_eperm_not_the_default_errno(runtime: Runtime) -> None:
    """OCI: a rule's errnoRet defaults to EPERM; defaultErrnoRet is the default action's."""
    profile = {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": errno.ENOSYS,
               "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"},
                            {"names": ["keyctl"], "action": "SCMP_ACT_ERRNO", "errnoRet": 5},
                            {"names": ALLOW_FOR_PERL, "action": "SCMP_ACT_ALLOW"}]}
    calls = {"mkdir": (probe.number("mkdir"), 0, 0), "keyctl": (probe.number("keyctl"), 0),
             "unlisted": (probe.number("add_key"), 0, 0, 0, 0, 0)}
    done = runtime.run(probe.argv(calls), mounts=mounts_with_tmp(runtime) + [probe.oci_mount()],
                       linux_seccomp=profile)
    assert probe.parse(done.stdout) == {"mkdir": errno.EPERM, "keyctl": 5,
                                        "unlisted": errno.ENOSYS}, done.stderr


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="x86's socketcall multiplexing")
def test_rules_on_multiplexed_calls_load(runtime: Runtime) -> None:
    """socketcall is a pseudo-call to libseccomp on x86_64 but the real call on x86: its
    rule counts (dropping it made libseccomp refuse the conditional socket rules of
    Podman's profile for a container without CAP_AUDIT_WRITE, as after --cap-drop ALL)."""
    netlink, raw, audit = 16, 3, 9
    profile = {"defaultAction": "SCMP_ACT_ERRNO", "architectures": X86, "syscalls": [
        {"names": [*ALLOW_FOR_PERL, "socketcall"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EINVAL,
         "args": [{"index": 0, "value": netlink, "op": "SCMP_CMP_EQ"},
                  {"index": 2, "value": audit, "op": "SCMP_CMP_EQ"}]},
        {"names": ["socket"], "action": "SCMP_ACT_ALLOW",
         "args": [{"index": 2, "value": audit, "op": "SCMP_CMP_NE"}]},
        {"names": ["socket"], "action": "SCMP_ACT_ALLOW",
         "args": [{"index": 0, "value": netlink, "op": "SCMP_CMP_NE"}]}]}
    calls = {"audit": (probe.number("socket"), netlink, raw, audit),
             "unix": (probe.number("socket"), 1, 1, 0)}
    done = runtime.run(probe.argv(calls), mounts=mounts_with_tmp(runtime) + [probe.oci_mount()],
                       process_capabilities=caps([]), linux_seccomp=profile)
    assert done.returncode == 0, done.stderr
    assert probe.parse(done.stdout) == {"audit": errno.EINVAL, "unix": 0}
