"""--init through darsed as dockerd 20.10 runs it (checked side by side): tini as pid 1,
mounted at /sbin/docker-init, the command its child; stop's SIGTERM reaches the command;
daemon.json "init" for containers that do not say."""

from __future__ import annotations

import json
import shutil
import time

from tests.cli.test_cli import darse
from tests.conftest import unique_network
from tests.daemon import Darsed, leftover_mounts, new_daemon


def ok(d: Darsed, *args: str, cli: str = "docker") -> str:
    done = d.docker(*args) if cli == "docker" else darse(d, *args)
    assert done.returncode == 0, f"{cli} {' '.join(args)}: {done.stderr}"
    return done.stdout


def test_init_pid1_docker_and_darse(docker: Darsed) -> None:
    for cli in ("docker", "darse"):
        ok(docker, "run", "-d", "--init", "--name", f"i-{cli}", "busybox", "sleep", "100",
           cli=cli)
    try:
        for cli in ("docker", "darse"):
            name = f"i-{cli}"
            procs = ok(docker, "exec", name, "ps", "-o", "pid,args").splitlines()[1:]
            table = [line.split(None, 1) for line in procs]
            assert ["1", "/sbin/docker-init -- sleep 100"] in table, table
            assert any(args == "sleep 100" and pid != "1" for pid, args in table), table
            info = json.loads(ok(docker, "inspect", name))[0]
            assert (info["Path"], info["Args"], info["HostConfig"]["Init"]) == (
                "sleep", ["100"], True)
            assert "/sbin/docker-init ro" in ok(docker, "exec", name, "grep", "docker-init",
                                                "/proc/self/mountinfo").replace(" ro,", " ro ")
            # tini passes stop's SIGTERM on: no 10 s wait for a pid 1 ignoring it.
            began = time.monotonic()
            ok(docker, "stop", "-t", "10", name)
            assert time.monotonic() - began < 5
            assert ok(docker, "inspect", "-f", "{{.State.ExitCode}}", name).strip() == "143"
    finally:
        docker.docker("rm", "-f", "i-docker", "i-darse")


def test_daemon_json_init_default(busybox_rootfs: str) -> None:
    d = new_daemon()
    bridge, bip = unique_network()
    (d.base / "daemon.json").write_text(json.dumps({"bridge": bridge, "bip": bip,
                                                    "init": True}))
    d.start()
    try:
        d.import_busybox(busybox_rootfs)
        assert ok(d, "run", "--rm", "busybox", "cat", "/proc/1/cmdline").split("\0")[:2] == \
            ["/sbin/docker-init", "--"]
        # An explicit --init=false wins over the daemon's default.
        status, out = d.api("POST", "/containers/create", {
            "Image": "busybox", "Cmd": ["sleep", "100"], "HostConfig": {"Init": False}})
        cid = json.loads(out)["Id"]
        assert d.api("POST", f"/containers/{cid}/start")[0] == 204
        assert ok(d, "exec", cid, "cat", "/proc/1/cmdline").split("\0")[0] == "sleep"
    finally:
        d.stop()
        assert leftover_mounts(str(d.base)) == []
        shutil.rmtree(d.base, ignore_errors=True)
