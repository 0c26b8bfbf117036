"""linux.devices and the device cgroup: nodes are made as the spec lists them, opened
only as linux.resources.devices (and the runtime's defaults, runc's) allow."""

from __future__ import annotations

from darse.runtime import spec
from tests.runtime.conftest import Runtime

TMP = {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["mode=1777"]}
MKNOD = {k: ["CAP_MKNOD"] for k in ("bounding", "effective", "permitted")}
DENY_ALL = {"devices": [{"allow": False, "access": "rwm"}]}


def test_mknod_is_allowed_opening_is_not(runtime: Runtime) -> None:
    """Under a deny-all (Docker's), making a node is allowed; opening it is not."""
    done = runtime.run(["sh", "-c", "mknod /tmp/loop b 7 0 && echo made-block; "
                        "mknod /tmp/mem c 1 1 && echo made-char; "
                        "head -c1 /tmp/loop || echo open-refused; "
                        "head -c1 /dev/zero | wc -c"],
                       mounts=spec.default()["mounts"] + [TMP], process_capabilities=MKNOD,
                       linux_resources=DENY_ALL)
    assert done.stdout.split() == ["made-block", "made-char", "open-refused", "1"], done.stderr
    assert "Operation not permitted" in done.stderr


def test_listed_devices_are_opened_only_as_the_rules_allow(runtime: Runtime) -> None:
    """A device in linux.devices gets no access of its own (runc's behaviour, which
    docker run --device NODE:PATH:r relies on): a rule gives it, with its access."""
    node = {"path": "/dev/nodriver", "type": "c", "major": 1, "minor": 2, "fileMode": 0o666}
    script = ("head -c1 /dev/nodriver; echo x > /dev/nodriver; "
              "stat -c '%F %t:%T' /dev/nodriver")
    bare = runtime.run(["sh", "-c", script], linux_devices=[node], linux_resources=DENY_ALL)
    assert bare.stderr.count("Operation not permitted") == 2, bare.stderr
    assert bare.stdout.strip() == "character special file 1:2"
    rule = {"allow": True, "type": "c", "major": 1, "minor": 2, "access": "r"}
    readable = runtime.run(["sh", "-c", script], linux_devices=[node],
                           linux_resources={"devices": [*DENY_ALL["devices"], rule]})
    # Opened for reading it reaches the (absent) driver; for writing, the cgroup says no.
    assert "No such device or address" in readable.stderr
    assert readable.stderr.count("Operation not permitted") == 1, readable.stderr
