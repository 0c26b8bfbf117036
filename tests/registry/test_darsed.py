"""darsed serves darse's registry itself (`darsed --registry ADDR --registry-root DIR`):
no container, the daemon's own loop; a push from that darsed to it goes through."""

from __future__ import annotations

import shutil
import subprocess

import httpx
import pytest

from tests.daemon import new_daemon
from tests.image.conftest import free_port


def test_darsed_serves_the_registry(busybox_rootfs: str) -> None:
    d = new_daemon()
    port = free_port()
    d.extra_args = ["--registry", f"127.0.0.1:{port}", "--registry-root",
                    str(d.base / "registry")]
    try:
        d.start()
        d.import_busybox(busybox_rootfs)
        assert httpx.get(f"http://127.0.0.1:{port}/v2/").headers[
            "Docker-Distribution-API-Version"] == "registry/2.0"
        image = f"127.0.0.1:{port}/own/busybox:1"
        assert d.docker("tag", "busybox", image).returncode == 0
        done = d.docker("push", image)
        assert done.returncode == 0, done.stderr
        tags = httpx.get(f"http://127.0.0.1:{port}/v2/own/busybox/tags/list").json()
        assert tags == {"name": "own/busybox", "tags": ["1"]}
        assert (d.base / "registry" / "blobs" / "sha256").is_dir()
    finally:
        d.stop()
        shutil.rmtree(d.base, ignore_errors=True)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/v2/", timeout=2)


def test_darsed_refuses_a_busy_registry_address(busybox_rootfs: str) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        d = new_daemon()
        d.extra_args = ["--registry", f"127.0.0.1:{taken.getsockname()[1]}",
                        "--registry-root", str(d.base / "registry")]
        try:
            with pytest.raises(RuntimeError, match="darsed: registry: .*address already in use"):
                d.start()
            assert d.proc is not None and d.proc.wait(10) == 1
            # It leaves nothing behind: not even the bridge it had made (--cleanup).
            bridge = d.config["bridge"]
            assert subprocess.run(["ip", "link", "show", bridge], capture_output=True
                                  ).returncode != 0
        finally:
            d.stop()
            shutil.rmtree(d.base, ignore_errors=True)


def test_daemon_json_registry_key(busybox_rootfs: str) -> None:
    """daemon.json's "registry" says what --registry says; a malformed one is refused."""
    import json

    from tests.conftest import unique_network

    d = new_daemon()
    port = free_port()
    bridge, bip = unique_network()
    settings = {"bridge": bridge, "bip": bip, "registry": {
        "addr": f"127.0.0.1:{port}", "root": str(d.base / "reg"), "read-only": True}}
    (d.base / "daemon.json").write_text(json.dumps(settings))
    try:
        d.start()
        assert httpx.get(f"http://127.0.0.1:{port}/v2/").status_code == 200
        upload = httpx.post(f"http://127.0.0.1:{port}/v2/own/x/blobs/uploads/")
        assert upload.status_code in (401, 403, 405), upload.text  # read-only
        assert (d.base / "reg").is_dir()
    finally:
        d.stop()
    settings["registry"] = {"addr": f"127.0.0.1:{port}", "colour": "blue"}
    (d.base / "daemon.json").write_text(json.dumps(settings))
    try:
        with pytest.raises(RuntimeError, match='"registry": unknown keys colour'):
            d.start()
    finally:
        d.stop()
        shutil.rmtree(d.base, ignore_errors=True)
