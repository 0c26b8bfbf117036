"""Device rules as a cgroup v2 BPF program: tested on any host with a cgroup2 tree
(a v2-only host's /sys/fs/cgroup, a hybrid host's /sys/fs/cgroup/unified)."""

from __future__ import annotations

import os
import subprocess
import uuid

import pytest

from darse.runtime.cgroups import devices, devices_bpf


def cgroup2_root() -> str | None:
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields[fields.index("-") + 1] == "cgroup2":
                return fields[4]
    return None


@pytest.fixture
def cgroup2_dir():
    root = cgroup2_root()
    assert root is not None, "darse needs a cgroup2 hierarchy; none is mounted"
    path = os.path.join(root, f"darse-test-{uuid.uuid4().hex[:8]}")
    os.mkdir(path)
    yield path
    os.rmdir(path)


def run_in(cgroup: str, script: str) -> subprocess.CompletedProcess:
    def enter() -> None:
        with open(os.path.join(cgroup, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))

    return subprocess.run(["sh", "-c", script], preexec_fn=enter, capture_output=True,
                          text=True, timeout=10)


def test_program_allows_listed_devices_only(cgroup2_dir: str) -> None:
    rules = devices.with_defaults([
        {"allow": False, "access": "rwm"},
        {"allow": True, "type": "c", "major": 1, "minor": 7, "access": "r"},  # /dev/full
    ])
    rules = [r for r in rules if (r.get("major"), r.get("minor")) != (1, 5)]  # not zero
    devices_bpf.attach(cgroup2_dir, rules)
    done = run_in(cgroup2_dir, "head -c1 /dev/null && echo null-ok; "
                  "head -c1 /dev/zero >/dev/null && echo zero-ok; "
                  "head -c1 /dev/full >/dev/null && echo full-read-ok; "
                  "echo x > /dev/full || echo full-write-refused")
    assert done.stdout.split() == ["null-ok", "full-read-ok", "full-write-refused"]
    assert "Operation not permitted" in done.stderr


def test_any_node_can_be_made_but_only_allowed_ones_opened(cgroup2_dir: str,
                                                           tmp_path) -> None:
    """The runtime's defaults, as runc's: mknod of any node ("m"), opening only the
    default devices; what a container gets under Docker's deny-all."""
    devices_bpf.attach(cgroup2_dir, devices.with_defaults([{"allow": False, "access": "rwm"}]))
    done = run_in(cgroup2_dir, f"mknod {tmp_path}/loop b 7 0 && echo made-block; "
                  f"mknod {tmp_path}/mem c 1 1 && echo made-char; "
                  f"head -c1 {tmp_path}/loop || echo open-refused")
    assert done.stdout.split() == ["made-block", "made-char", "open-refused"], done.stderr
    assert "Operation not permitted" in done.stderr
