"""Bad config.json: a clear error naming the field, and nothing left behind."""

from __future__ import annotations

import json
import os

import pytest

from tests.runtime.conftest import Runtime

CASES = [
    ({"process_args": []}, "process.args: must be a non-empty list of strings"),
    ({"process_args": "sh"}, "process.args: must be of type list, not str"),
    ({"process_cwd": "relative"}, "process.cwd: must be an absolute path"),
    ({"process_env": ["NOEQUALS"]}, "process.env[0]: must be KEY=VALUE"),
    ({"process_rlimits": [{"type": "RLIMIT_BOGUS", "soft": 1, "hard": 1}]},
     "process.rlimits[0].type: unknown rlimit 'RLIMIT_BOGUS'"),
    ({"process_capabilities": {"bounding": ["CAP_FLY"]}},
     "process.capabilities.bounding: unknown capability 'CAP_FLY'"),
    ({"linux_namespaces": [{"type": "mount"}, {"type": "galaxy"}]},
     "linux.namespaces[1].type: unknown namespace 'galaxy'"),
    ({"linux_namespaces": [{"type": "mount"}, {"type": "mount"}]},
     "linux.namespaces[1].type: duplicate namespace 'mount'"),
    ({"linux_namespaces": [{"type": "pid"}]},
     "linux.namespaces: unable to restrict sys entries without a private MNT namespace"),
    ({"linux_namespaces": [{"type": "pid"}], "linux_maskedPaths": [],
      "linux_readonlyPaths": []},
     "root.readonly: a read-only root needs a private mount namespace"),
    ({"linux_namespaces": [{"type": "mount"}, {"type": "network", "path": "/nonexistent"}]},
     "linux.namespaces[1].path: /nonexistent does not exist"),
    ({"mounts": [{"type": "tmpfs"}]}, "mounts[0].destination"),
    ({"linux_seccomp": {"defaultAction": "SCMP_ACT_EXPLODE"}},
     "linux.seccomp: unsupported action 'SCMP_ACT_EXPLODE'"),
    ({"linux_rootfsPropagation": "sideways"}, "linux.rootfsPropagation: unknown propagation"),
    ({"hooks": {"prestart": [{"path": "relative"}]}},
     "hooks.prestart[0].path: must be an absolute path"),
    ({"linux_cgroupsPath": "system.slice:darse:x"}, "linux.cgroupsPath: systemd cgroup paths"),
    ({"linux_devices": [{"path": "/dev/x", "type": "z"}]},
     "linux.devices[0].type: unknown device type 'z'"),
]


@pytest.mark.parametrize(("changes", "message"), CASES)
def test_invalid_config_is_refused(runtime: Runtime, changes: dict, message: str) -> None:
    cid = runtime.new_id()
    done = runtime("create", "--bundle", str(runtime.bundle(["true"], **changes)), cid,
                   check=False)
    assert done.returncode == 1
    assert message in done.stderr
    assert not os.path.exists(runtime.root / cid)
    assert not runtime.cgroup_dirs()


def test_invalid_json(runtime: Runtime) -> None:
    bundle = runtime.bundle(["true"])
    (bundle / "config.json").write_text("{not json")
    done = runtime("create", "--bundle", str(bundle), "x", check=False)
    assert done.returncode == 1 and "config.json: invalid JSON" in done.stderr


def test_missing_rootfs_and_executable(runtime: Runtime, tmp_path) -> None:
    cid = runtime.new_id()
    bundle = runtime.bundle(["true"], root={"path": str(tmp_path / "nothing")})
    done = runtime("create", "--bundle", str(bundle), cid, check=False)
    assert "rootfs (" in done.stderr and "does not exist" in done.stderr
    bundle = runtime.bundle(["/no/such/binary"])
    done = runtime("create", "--bundle", str(bundle), cid, check=False)
    assert done.returncode == 1
    assert 'exec: "/no/such/binary": stat /no/such/binary: no such file' in done.stderr
    assert not os.path.exists(runtime.root / cid) and not runtime.cgroup_dirs()
    with open("/proc/self/mountinfo") as f:
        assert runtime.rootfs not in f.read()


def _cmdline(pid: str) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().decode(errors="replace")
    except OSError:
        return ""  # gone meanwhile: the host's other processes come and go


def test_failed_mount_leaves_no_process(runtime: Runtime) -> None:
    cid = runtime.new_id()
    mounts = [{"destination": "/x", "type": "bind", "source": "/definitely/missing",
               "options": ["rbind"]}]
    done = runtime("create", "--bundle", str(runtime.bundle(["true"], mounts=mounts)), cid,
                   check=False)
    assert done.returncode == 1 and "/definitely/missing" in done.stderr
    assert not [p for p in os.listdir("/proc") if p.isdigit() and cid in _cmdline(p)]
    assert json.loads(runtime("list", "--format", "json").stdout) == []
