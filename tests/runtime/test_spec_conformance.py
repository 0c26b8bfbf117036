"""What the runtime spec asks and runc does, on the same kind of bundle: poststart hooks run
once the user's process has started, capabilities that cannot be applied fail create."""

from __future__ import annotations

import os

from tests.runtime.conftest import Runtime


def test_poststart_runs_after_the_process_started(runtime: Runtime, tmp_path) -> None:
    out = tmp_path / "cmdline"
    hook = {"path": "/bin/sh", "args": ["sh", "-c",
                                        f"sed 's/.*\"pid\": *\\([0-9]*\\).*/\\1/' | "
                                        f"{{ read p; tr '\\0' ' ' < /proc/$p/cmdline > {out}; }}"]}
    cid = runtime.new_id()
    # A startContainer hook that takes its time: the user's process starts after it.
    slow = {"path": "/bin/sh", "args": ["sh", "-c", "sleep 0.5"]}
    bundle = runtime.bundle(["sleep", "100"], hooks={"poststart": [hook],
                                                     "startContainer": [slow]})
    runtime("create", "--bundle", str(bundle), cid)
    try:
        runtime("start", cid)
        assert out.read_text().strip() == "sleep 100"
    finally:
        runtime("delete", "--force", cid)


def test_caps_that_cannot_be_applied_fail_create(runtime: Runtime) -> None:
    from darse.runtime import spec

    caps = dict(spec.default()["process"]["capabilities"])
    # An effective capability outside the permitted set: capset(2) refuses it.
    caps["effective"] = [*caps["effective"], "CAP_SYS_ADMIN"]
    cid = runtime.new_id()
    bundle = runtime.bundle(["true"], process_capabilities=caps)
    done = runtime("create", "--bundle", str(bundle), cid, check=False)
    assert done.returncode != 0
    assert "unable to apply caps: Operation not permitted" in done.stderr
    assert not os.listdir(runtime.root) if runtime.root.exists() else True
