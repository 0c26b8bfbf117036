"""The CLI's start-up path: the launcher install.sh writes, the JSON it parses and prints
with, and what `darse ps` imports (figures are bench/cli_start.py's, never a test's)."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from darse.cli import fastjson, launcher
from tests.daemon import Darsed

ROOT = str(Path(__file__).resolve().parents[2])


@pytest.fixture
def darse_command(tmp_path: Path) -> str:
    """The working tree's darse behind the launcher install.sh writes."""
    path = str(tmp_path / "darse")
    launcher.write(path, sys.executable, ROOT)
    return path


def test_launcher_runs_commands(darsed: Darsed, darse_command: str) -> None:
    version = subprocess.run([darse_command, "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and version.stdout == "darse version 0.1.0\n"
    cid = subprocess.run([darse_command, "-H", darsed.host, "run", "-d", "--name", "lc1",
                          "busybox", "sleep", "100"], capture_output=True, text=True,
                         check=True).stdout.strip()
    listing = subprocess.run([darse_command, "-H", darsed.host, "container", "ps", "-a",
                              "--format", "{{.ID}} {{.Names}} {{json .Names}}"],
                             capture_output=True, text=True, check=True).stdout
    assert listing == f'{cid[:12]} lc1 "lc1"\n'
    gone = subprocess.run([darse_command, "-H", darsed.host, "rm", "nosuch"],
                          capture_output=True, text=True)
    assert gone.returncode == 1 and "No such container: nosuch" in gone.stderr
    subprocess.run([darse_command, "-H", darsed.host, "rm", "-f", "lc1"], check=True,
                   capture_output=True)


def test_launcher_falls_back_to_site_for_an_editable_install(tmp_path: Path) -> None:
    """darse found only through a .pth file (pip install -e) still runs."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "darse-editable.pth").write_text(ROOT + "\n")
    path = str(tmp_path / "darse")
    launcher.write(path, sys.executable, str(site))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([path, "--version"], capture_output=True, text=True, cwd=tmp_path,
                          env=env)
    assert done.returncode == 0 and done.stdout == "darse version 0.1.0\n", done.stderr


@pytest.mark.parametrize("unbuffered", ["", "1"])
def test_output_to_a_closed_pipe_is_quiet(darsed: Darsed, unbuffered: str) -> None:
    """`darse ps | true`, the reader gone before darse writes: no traceback nor 'Exception
    ignored' at exit; killed by SIGPIPE as the docker CLI is."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run([sys.executable, "-m", "darse.cli", "-H", darsed.host, "ps"],
                              stdout=write_end, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                              env=dict(os.environ, PYTHONUNBUFFERED=unbuffered))
    finally:
        os.close(write_end)
    assert done.returncode == -signal.SIGPIPE and done.stderr == ""


def test_ps_imports_only_what_it_uses(darsed: Darsed, darse_command: str) -> None:
    """None of the modules whose import costs milliseconds is on ps's path."""
    done = subprocess.run([sys.executable, "-I", "-S", "-X", "importtime", darse_command,
                           "-H", darsed.host, "ps", "-a", "--format", "{{json .Names}}"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    imported = {line.split("|")[-1].strip() for line in done.stderr.splitlines()
                if line.startswith("import time:")}
    assert "darse.cli.commands.ps" in imported
    assert imported & {"site", "os", "re", "enum", "json", "socket", "typing", "threading",
                       "signal", "importlib", "collections", "darse.cli.commands.container"
                       } == set()


def test_run_imports_only_what_it_uses(darsed: Darsed, darse_command: str) -> None:
    """A plain `run --rm` (no terminal, no --device, no seccomp profile to read) imports
    none of the modules whose import costs milliseconds, and still says what it ran."""
    done = subprocess.run([sys.executable, "-I", "-S", "-X", "importtime", darse_command,
                           "-H", darsed.host, "run", "--rm", "--network", "none", "-e", "HOME",
                           "busybox", "sh", "-c", "echo out $HOME; echo err >&2"],
                          capture_output=True, text=True, env={**os.environ, "HOME": "/h1"})
    assert done.returncode == 0, done.stderr
    assert done.stdout == "out /h1\n"
    assert [line for line in done.stderr.splitlines()
            if not line.startswith("import time:")] == ["err"]
    imported = {line.split("|")[-1].strip() for line in done.stderr.splitlines()
                if line.startswith("import time:")}
    assert "darse.cli.commands.container" in imported
    assert imported & {"site", "os", "posixpath", "re", "enum", "json", "socket", "struct",
                       "typing", "threading", "termios", "tty", "signal", "importlib",
                       "collections"} == set()


def test_attach_head_is_read_without_the_stream_after_it() -> None:
    """The attach's 101 head ends in the middle of what the socket holds, or is cut
    anywhere across writes (even inside its blank line): the stream after it is intact."""
    import socket
    import threading

    from darse.cli.client import _read_head

    head = b"HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
    stream = b"\x01\x00\x00\x00\x00\x00\x00\x03hi\n"
    for cut in [len(head), len(head) - 1, len(head) - 2, len(head) - 3, 5, 1]:
        ours, theirs = socket.socketpair()
        whole = head + stream

        def write(theirs: socket.socket = theirs, whole: bytes = whole, cut: int = cut) -> None:
            theirs.sendall(whole[:cut])
            threading.Event().wait(0.05)
            theirs.sendall(whole[cut:])
            theirs.close()

        writer = threading.Thread(target=write)
        writer.start()
        assert _read_head(ours) == head
        rest = b""
        while chunk := ours.recv(65536):
            rest += chunk
        writer.join()
        ours.close()
        assert rest == stream, cut


DOCUMENTS = [None, True, False, 0, -7, 2 ** 70, 1.5, -0.0, 1e300, "", "é\n\"\\<>&\u2603\U0001f600",
             [], {}, [1, [2, [3, {}]]], {"a": {"b": [None, {"c": "d"}]}, "x": []},
             {3: "int key", 2.5: "float key", True: "bool key", None: "null key"}]


@pytest.mark.parametrize("doc", DOCUMENTS)
def test_fastjson_writes_as_json_does(doc: object) -> None:
    assert fastjson.dumps(doc) == json.dumps(doc)
    assert fastjson.dumps(doc, (",", ":")) == json.dumps(doc, separators=(",", ":"))
    assert fastjson.dumps(doc, indent=4) == json.dumps(doc, indent=4)
    assert fastjson.dumps(doc, indent="\t") == json.dumps(doc, indent="\t")
    text = json.dumps(doc)
    assert json.dumps(fastjson.loads(text)) == json.dumps(json.loads(text))
    assert json.dumps(fastjson.loads(text.encode())) == json.dumps(json.loads(text))


def test_fastjson_special_numbers_and_errors() -> None:
    assert fastjson.dumps([math.inf, -math.inf]) == "[Infinity, -Infinity]"
    assert math.isnan(fastjson.loads(" NaN ")) and fastjson.loads("-Infinity") == -math.inf
    for bad in ["", "  ", "{", "[1,]", "1 2", "{} \n ]", "nul", '"\x01"', "\ufeff1"]:
        with pytest.raises(json.JSONDecodeError) as mine:
            fastjson.loads(bad)
        with pytest.raises(json.JSONDecodeError) as theirs:
            json.loads(bad)
        assert str(mine.value) == str(theirs.value)
    with pytest.raises(TypeError, match="Object of type object is not JSON serializable"):
        fastjson.dumps({"a": object()})
