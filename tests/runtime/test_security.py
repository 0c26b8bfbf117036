"""Capabilities, no_new_privs, seccomp and the user's identity really apply."""

from __future__ import annotations

import json

from darse.runtime import seccomp
from darse.runtime.capabilities import NUMBERS
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


# Debian ships Docker's default profile, as maintained by the containers project, here
# (install.sh installs golang-github-containers-common).
DOCKER_PROFILE = "/usr/share/containers/seccomp.json"


def test_docker_default_profile_loads_and_blocks(runtime: Runtime) -> None:
    with open(DOCKER_PROFILE) as f:
        profile = seccomp.from_docker(json.load(f), DOCKER_CAPS)
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
