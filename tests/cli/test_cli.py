"""The seed's container chapter through darse's own CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.daemon import Darsed

DARSE = os.path.join(os.path.dirname(sys.executable), "darse")


def darse(d: Darsed, *args: str, input: str | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))), DARSE_CONFIG=str(d.base / "darse-config"))
    return subprocess.run([sys.executable, "-m", "darse.cli", "-H", d.host, *args],
                          capture_output=True, text=True, input=input, timeout=60, env=env)


def ok(d: Darsed, *args: str, input: str | None = None) -> str:
    done = darse(d, *args, input=input)
    assert done.returncode == 0, f"darse {' '.join(args)}: {done.stderr}"
    return done.stdout


def test_seed_commands(darsed: Darsed) -> None:
    cid = ok(darsed, "run", "-d", "--name", "c1", "busybox", "sleep", "1000").strip()
    lines = ok(darsed, "ps").splitlines()
    assert lines[0].split()[:3] == ["CONTAINER", "ID", "IMAGE"]
    assert lines[1].startswith(cid[:12]) and lines[1].rstrip().endswith("c1")
    assert ok(darsed, "stop", "-t", "1", "c1") == "c1\n"
    assert ok(darsed, "ps", "-q") == ""
    assert "Exited (137)" in ok(darsed, "ps", "-a")
    ok(darsed, "start", "c1")
    assert ok(darsed, "ps", "-qa").split() == [cid[:12]]
    assert ok(darsed, "exec", "c1", "hostname").strip() == cid[:12]
    assert ok(darsed, "rm", "-f", "c1") == "c1\n"
    out = ok(darsed, "run", "--rm", "--hostname", "host1", "--dns", "8.8.8.8", "busybox",
             "sh", "-c", "hostname; grep nameserver /etc/resolv.conf")
    assert out == "host1\nnameserver 8.8.8.8\n"
    assert ok(darsed, "ps", "-aq") == ""


def test_exit_codes(darsed: Darsed) -> None:
    assert darse(darsed, "run", "--rm", "busybox", "sh", "-c", "exit 5").returncode == 5
    missing = darse(darsed, "run", "--rm", "busybox", "nosuch")
    assert missing.returncode == 127 and "executable file not found" in missing.stderr
    bad = darse(darsed, "run", "--bogus", "busybox")
    assert bad.returncode == 125 and "unknown flag: --bogus" in bad.stderr
    nosuch = darse(darsed, "run", "--pull", "never", "nosuch:1")
    assert nosuch.returncode == 125 and "No such image: nosuch:1" in nosuch.stderr
    gone = darse(darsed, "stop", "nosuch")
    assert gone.returncode == 1 and "No such container: nosuch" in gone.stderr
    assert ok(darsed, "ps", "-aq") == ""


def test_format_logs_inspect_images(darsed: Darsed) -> None:
    ok(darsed, "run", "--name", "fmt1", "-e", "A=1", "busybox", "sh", "-c", "echo out; echo "
       "err >&2")
    assert ok(darsed, "logs", "fmt1") == "out\n"  # stderr goes to our stderr
    assert ok(darsed, "ps", "-a", "--format", "{{.Names}} {{.State}}") == "fmt1 exited\n"
    table = ok(darsed, "ps", "-a", "--format", "table {{.Names}}\\t{{.Status}}").splitlines()
    assert table[0].split() == ["NAMES", "STATUS"] and table[1].startswith("fmt1 ")
    info = json.loads(ok(darsed, "inspect", "fmt1"))[0]
    assert "A=1" in info["Config"]["Env"]
    assert ok(darsed, "inspect", "--format", "{{range .Config.Env}}{{.}};{{end}}",
              "fmt1").startswith("PATH=")
    assert ok(darsed, "inspect", "-f", "{{if .State.Running}}up{{else}}down{{end}}",
              "fmt1") == "down\n"
    ok(darsed, "rm", "fmt1")
    images = ok(darsed, "images").splitlines()
    assert images[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    assert any(line.split()[:2] == ["busybox", "latest"] for line in images[1:])
    ok(darsed, "tag", "busybox", "mybox:v1")
    assert "mybox" in ok(darsed, "images", "--format", "{{.Repository}}:{{.Tag}}")
    assert ok(darsed, "rmi", "mybox:v1") == "Untagged: mybox:v1\n"


def test_save_load_roundtrip(darsed: Darsed, tmp_path) -> None:
    path = str(tmp_path / "bb.tar")
    ok(darsed, "save", "-o", path, "busybox")
    ok(darsed, "tag", "busybox", "copy:1")
    ok(darsed, "rmi", "copy:1")
    assert ok(darsed, "load", "-i", path) == "Loaded image: busybox:latest\n"


def test_export_then_import(darsed: Darsed, tmp_path) -> None:
    ok(darsed, "run", "--name", "exp1", "busybox", "sh", "-c", "echo made > /made-here")
    path = str(tmp_path / "fs.tar")
    ok(darsed, "export", "-o", path, "exp1")
    import tarfile

    names = tarfile.open(path).getnames()
    assert "made-here" in names and "bin/busybox" in names
    image_id = ok(darsed, "import", path, "exported:1").strip()
    assert image_id.startswith("sha256:")
    assert ok(darsed, "run", "--rm", "exported:1", "cat", "/made-here") == "made\n"
    ok(darsed, "rm", "exp1")
    ok(darsed, "rmi", "exported:1")


def test_sizes_of_what_containers_wrote(darsed: Darsed) -> None:
    ok(darsed, "container", "prune", "-f")
    ok(darsed, "run", "--name", "writer", "busybox", "sh", "-c",
       "head -c 5000 /dev/zero > /f; ln /f /g")
    cid = ok(darsed, "inspect", "--format", "{{.Id}}", "writer").strip()
    assert ok(darsed, "ps", "-s").splitlines()[0].split()[-1] == "SIZE"
    size = ok(darsed, "ps", "-a", "-s", "--filter", "name=writer", "--format", "{{.Size}}")
    assert size.startswith("5kB (virtual ") and size.rstrip().endswith("MB)")
    assert ok(darsed, "inspect", "-s", "--format", "{{.SizeRw}}", "writer") == "5000\n"
    assert ok(darsed, "container", "prune", "-f").splitlines() == [
        "Deleted Containers:", cid, "", "Total reclaimed space: 5kB"]


def test_history_machine_readable(darsed: Darsed) -> None:
    human = ok(darsed, "history", "--format", "{{.Size}}|{{.CreatedSince}}", "busybox")
    raw = ok(darsed, "history", "-H=false", "--format", "{{.Size}}|{{.CreatedSince}}",
             "busybox")
    size, created = raw.splitlines()[0].split("|")
    assert size.isdigit() and int(size) > 1_000_000
    assert human.splitlines()[0].split("|")[0].endswith("MB")
    assert created[:4].isdigit() and "T" in created
