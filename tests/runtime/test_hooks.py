"""OCI hooks run at their moment, with the state on stdin."""

from __future__ import annotations

import json
import os

from tests.runtime.conftest import Runtime


def recorder(tmp_path, name: str) -> dict:
    out = tmp_path / f"{name}.json"
    return {"path": "/bin/sh", "args": ["sh", "-c", f"cat > {out}"]}


def test_hooks_run_in_order_with_state(runtime: Runtime, tmp_path) -> None:
    hooks = {kind: [recorder(tmp_path, kind)]
             for kind in ("prestart", "createRuntime", "poststart", "poststop")}
    cid = runtime.new_id()
    bundle = runtime.bundle(["sleep", "100"], hooks=hooks)
    runtime("create", "--bundle", str(bundle), cid)
    pid = runtime.state(cid)["pid"]
    for kind in ("prestart", "createRuntime"):
        st = json.loads((tmp_path / f"{kind}.json").read_text())
        assert st["id"] == cid and st["pid"] == pid and st["status"] == "creating"
    assert not (tmp_path / "poststart.json").exists()
    runtime("start", cid)
    assert json.loads((tmp_path / "poststart.json").read_text())["status"] == "running"
    runtime("delete", "--force", cid)
    assert json.loads((tmp_path / "poststop.json").read_text())["status"] == "stopped"


def test_container_hooks_run_inside(runtime: Runtime, tmp_path) -> None:
    out = tmp_path / "inside"
    # createContainer runs in the container's mount namespace before pivot_root (so the
    # host's paths still resolve).
    hooks = {"createContainer": [{"path": "/bin/sh",
                                  "args": ["sh", "-c", f"readlink /proc/self/ns/mnt > {out}"]}]}
    done = runtime.run(["true"], hooks=hooks)
    assert done.returncode == 0, done.stderr
    assert out.read_text().strip() != os.readlink("/proc/self/ns/mnt")


def test_failing_prestart_hook_leaves_nothing(runtime: Runtime) -> None:
    cid = runtime.new_id()
    hooks = {"prestart": [{"path": "/bin/sh", "args": ["sh", "-c", "echo nope >&2; exit 3"]}]}
    done = runtime("create", "--bundle", str(runtime.bundle(["true"], hooks=hooks)), cid,
                   check=False)
    assert done.returncode == 1
    assert "error running prestart hook #0: exit status 3" in done.stderr and "nope" in done.stderr
    assert runtime("state", cid, check=False).returncode == 1
    assert not runtime.cgroup_dirs()
