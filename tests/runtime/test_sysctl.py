"""linux.sysctl: settings of the container's own namespaces apply; the host's are
refused before anything is made, with runc's words, and stay as they were."""

from __future__ import annotations

import os

import pytest

from darse.runtime import spec
from tests.runtime.conftest import Runtime


def host_value(key: str) -> str:
    with open("/proc/sys/" + key.replace(".", "/")) as f:
        return f.read()


def set_host_value(key: str, value: str) -> None:
    with open("/proc/sys/" + key.replace(".", "/"), "w") as f:
        f.write(value)


def without(kind: str) -> list[dict]:
    return [ns for ns in spec.default()["linux"]["namespaces"] if ns["type"] != kind]


def other_value(key: str) -> str:
    """A value that differs from the host's: if the write went through, it shows."""
    current = host_value(key).split()
    if current and current[0].lstrip("-").isdigit():
        return str(int(current[0]) - 1)
    return "|/bin/false %p" if key == "kernel.core_pattern" else "darse-test"


REFUSED = [
    ("fs.lease-break-time", {}, 'sysctl "fs.lease-break-time" is not in a separate kernel '
     "namespace"),
    ("kernel.core_pattern", {}, 'sysctl "kernel.core_pattern" is not in a separate kernel '
     "namespace"),
    ("vm.swappiness", {}, 'sysctl "vm.swappiness" is not in a separate kernel namespace'),
    ("kernel.hostname", {}, 'sysctl "kernel.hostname" is not allowed as it conflicts with '
     'the OCI "hostname" field'),
    ("net.ipv4.tcp_keepalive_probes", {"linux_namespaces": without("network")},
     'sysctl "net.ipv4.tcp_keepalive_probes" not allowed in host network namespace'),
    ("net.ipv4.tcp_keepalive_probes", {"linux_namespaces": [
        # the host's network namespace, given by path (this test's own)
        *without("network"), {"type": "network", "path": f"/proc/{os.getpid()}/ns/net"}]},
     'sysctl "net.ipv4.tcp_keepalive_probes" not allowed in host network namespace'),
    ("kernel.shmmni", {"linux_namespaces": without("ipc")},
     'sysctl "kernel.shmmni" is not allowed in the hosts ipc namespace'),
    ("fs.mqueue.msg_max", {"linux_namespaces": without("ipc")},
     'sysctl "fs.mqueue.msg_max" is not allowed in the hosts ipc namespace'),
    ("kernel.domainname", {"linux_namespaces": without("uts"), "hostname": ""},
     'sysctl "kernel.domainname" is not in a separate kernel namespace'),
    ("net.ipv4/../../kernel/core_pattern", {}, "is not a valid sysctl name"),
]


@pytest.mark.parametrize("key,changes,message", REFUSED,
                         ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(REFUSED)])
def test_host_settings_are_refused_and_unchanged(runtime: Runtime, key: str, changes: dict,
                                                 message: str) -> None:
    real = "kernel.core_pattern" if key.startswith("net.ipv4/") else key
    before = host_value(real)
    done = runtime.run(["true"], linux_sysctl={key: other_value(real)}, **changes)
    after = host_value(real)
    if after != before:
        set_host_value(real, before)  # the hole was open: close it again for the host's sake
    assert done.returncode != 0
    assert message in done.stderr
    assert after == before


def test_namespaced_settings_apply_inside(runtime: Runtime) -> None:
    settings = {"net.ipv4.tcp_keepalive_probes": "7", "kernel.shmmni": "1234",
                "fs.mqueue.msg_max": "17", "kernel.domainname": "darse.test"}
    before = {k: host_value(k) for k in settings}
    script = "; ".join(f"cat /proc/sys/{k.replace('.', '/')}" for k in settings)
    done = runtime.run(["sh", "-c", script], linux_sysctl=settings)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == list(settings.values())
    assert {k: host_value(k) for k in settings} == before  # the container's, not the host's
