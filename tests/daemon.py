"""A darsed of the test's own: its data root, exec root and socket, busybox imported
from busybox-static; stopped with everything it ran, nothing left behind."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from darse.runtime import state
from tests.ocilayout import tar_of_dir

DOCKER = next((p for p in ("/usr/bin/docker", "/usr/local/bin/docker") if os.path.exists(p)),
              None)


def _http(sock_path: str, method: str, path: str, body: bytes = b"",
          headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    import http.client

    class Conn(http.client.HTTPConnection):
        def connect(self) -> None:
            self.sock = socket.socket(socket.AF_UNIX)
            self.sock.connect(sock_path)

    conn = Conn("localhost", timeout=60)
    conn.request(method, path, body=body, headers=headers or {})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, data


class Darsed:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.data_root = str(base / "data")
        self.exec_root = str(base / "exec")
        self.sock = str(base / "darse.sock")
        self.host = f"unix://{self.sock}"
        self.proc: subprocess.Popen | None = None
        self.extra_args: list[str] = []  # more darsed flags (e.g. --cri-socket)
        self.wrapper: list[str] = []  # a command darsed runs under (e.g. unshare -n ...)

    def start(self) -> None:
        from tests.conftest import unique_network

        if not (self.base / "daemon.json").exists():
            bridge, bip = unique_network()
            (self.base / "daemon.json").write_text(json.dumps({"bridge": bridge, "bip": bip}))
        log = open(self.base / "darsed.log", "ab")  # noqa: SIM115
        env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
        self.proc = subprocess.Popen(
            [*self.wrapper, sys.executable, "-m", "darse.daemon", "-H", self.host, "--data-root",
             self.data_root, "--exec-root", self.exec_root, "--config-file",
             str(self.base / "daemon.json"), "--cleanup", *self.extra_args],
            stdout=log, stderr=log, env=env)
        deadline = time.monotonic() + 20
        while True:
            try:
                if self.api("GET", "/_ping")[0] == 200:
                    return
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("darsed did not start: " +
                                   (self.base / "darsed.log").read_text()[-2000:])
            time.sleep(0.02)

    def api(self, method: str, path: str, body: object = None,
            raw: bytes | None = None) -> tuple[int, bytes]:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None
                                             else b"")
        headers = {"Content-Type": "application/json"} if body is not None else {}
        return _http(self.sock, method, path, data, headers)

    def import_busybox(self, rootfs: str, name: str = "busybox:latest") -> None:
        repo, _, tag = name.partition(":")
        status, out = self.api("POST", f"/images/create?fromSrc=-&repo={repo}&tag={tag}"
                                       "&changes=CMD%20%5B%22sh%22%5D", raw=tar_of_dir(rootfs))
        assert status == 200 and b"sha256:" in out, out

    def docker(self, *args: str, input: str | None = None,
               timeout: float = 60) -> subprocess.CompletedProcess:
        """The real docker CLI, pointed at this darsed."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
        env["DOCKER_CONFIG"] = str(self.base / "docker-config")
        return subprocess.run([DOCKER, "-H", self.host, *args], capture_output=True, text=True,
                              input=input, timeout=timeout, env=env)

    @property
    def config(self) -> dict:
        return json.loads((self.base / "daemon.json").read_text())

    def kill(self, sig: int = signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=20)

    def stop(self) -> None:
        """Remove every container, stop darsed and its shim."""
        if self.proc and self.proc.poll() is None:
            status, out = self.api("GET", "/containers/json?all=1")
            for c in json.loads(out) if status == 200 else []:
                self.api("DELETE", f"/containers/{c['Id']}?force=1")
            status, out = self.api("GET", "/networks")
            for n in json.loads(out) if status == 200 else []:
                if n["Name"] not in ("bridge", "host", "none"):
                    self.api("DELETE", f"/networks/{n['Id']}")
        self.kill()
        pid_file = os.path.join(self.exec_root, "shim.pid")
        if os.path.exists(pid_file):
            pid = int(open(pid_file).read())
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and (st := state.proc_stat(pid)) is not None \
                    and st[0] != "Z":
                time.sleep(0.01)


def new_daemon() -> Darsed:
    base = Path(tempfile.mkdtemp(prefix="darse-test-"))
    base.chmod(0o755)
    return Darsed(base)


def leftover_mounts(root: str) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if root in line.split()[4]]


def http_get(url: str, timeout: float = 5) -> str:
    """A page's text, asked again until timeout while nothing answers (a server in a
    container just started)."""
    import urllib.request

    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return r.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
