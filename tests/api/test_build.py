"""The seed's users chapter: an image built from a Dockerfile, users whose ids cross
the host boundary through a bind mount."""

from __future__ import annotations

import json
import os

import pytest

from tests.cli.test_cli import darse
from tests.daemon import Darsed


def ok(d: Darsed, *args: str) -> str:
    done = darse(d, *args)
    assert done.returncode == 0, f"darse {' '.join(args)}: {done.stderr}"
    return done.stdout


def test_build_run_and_uids_across_the_host(darsed: Darsed, tmp_path) -> None:
    ctx = tmp_path / "test"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        "FROM busybox\n"
        "# users as useradd would make them (busybox-static has no adduser)\n"
        "RUN echo 'user1:x:1111:1111::/home/user1:/bin/sh' >> /etc/passwd && \\\n"
        "    echo 'user3:x:1113:1113::/:/bin/sh' >> /etc/passwd\n"
        "COPY motd /etc/motd\n"
        "RUN rm /bin/ed\n"
        "ENV GREETING=hello\n"
        "WORKDIR /srv\n"
        'CMD ["sh", "-c", "echo $GREETING from $(pwd); cat /etc/motd"]\n')
    (ctx / "motd").write_text("built by darse\n")
    out = ok(darsed, "build", "-t", "myimage:v1.0", str(ctx))
    assert "Step 1/7 : FROM busybox" in out and "Successfully tagged myimage:v1.0" in out
    images = ok(darsed, "images", "--format", "{{.Repository}}:{{.Tag}}").split()
    assert "myimage:v1.0" in images and not any(i.startswith("<none>") for i in images)
    assert ok(darsed, "run", "--rm", "myimage:v1.0") == "hello from /srv\nbuilt by darse\n"
    gone = darse(darsed, "run", "--rm", "myimage:v1.0", "ls", "/bin/ed")
    assert gone.returncode == 1  # the whiteout of a RUN rm is in the layer
    vol = tmp_path / "myvolume"
    vol.mkdir()
    ok(darsed, "run", "--rm", "-v", f"{vol}/:/data/", "myimage:v1.0", "touch", "/data/titi")
    assert os.stat(vol / "titi").st_uid == 0  # root in the container is root here
    denied = darse(darsed, "run", "--rm", "-v", f"{vol}/:/data/", "-u", "user1",
                   "myimage:v1.0", "touch", "/data/x")
    assert denied.returncode == 1 and "Permission denied" in denied.stderr
    os.chown(vol, 1111, -1)
    ok(darsed, "run", "--rm", "-v", f"{vol}/:/data/", "-u", "user1", "myimage:v1.0", "touch",
       "/data/from-user1")
    assert os.stat(vol / "from-user1").st_uid == 1111  # ids, not names, cross the boundary
    os.chmod(vol, 0o777)
    ok(darsed, "run", "--rm", "-v", f"{vol}/:/data/", "-u", "user3", "myimage:v1.0", "touch",
       "/data/from-user3")
    assert os.stat(vol / "from-user3").st_uid == 1113
    ok(darsed, "rmi", "myimage:v1.0")


def test_build_errors(darsed: Darsed, tmp_path) -> None:
    cases = {
        "FROM busybox\nRUN exit 3\n": "The command '/bin/sh -c exit 3' returned a non-zero "
                                      "code: 3",
        "FROM busybox\nFROBNICATE x\n": "unknown instruction: FROBNICATE",
        "RUN true\n": "Please provide a source image with `from` prior to commit",
        "FROM busybox\nCOPY missing /x\n": "file not found in build context",
    }
    before = ok(darsed, "images", "-q", "-a")
    for text, message in cases.items():
        (tmp_path / "Dockerfile").write_text(text)
        done = darse(darsed, "build", "--force-rm", "-t", "broken:1", str(tmp_path))
        # As the docker CLI: a failed RUN's exit code is the build's.
        code = 3 if "exit 3" in text else 1
        assert done.returncode == code and message in done.stderr, (text, done.stderr)
    assert ok(darsed, "images", "-q", "-a") == before  # nothing half-made is left
    assert ok(darsed, "ps", "-aq") == ""  # --force-rm: not even the failed RUN's container


@pytest.mark.parametrize("users", [("user1", 1111), ("user3", 1113)])
def test_seed_dockerfile_on_debian(darsed: Darsed, debian_tar: str, tmp_path,
                                   users: tuple[str, int]) -> None:
    """The seed's own Dockerfile: FROM debian, RUN useradd."""
    if "debian:latest" not in ok(darsed, "images", "--format", "{{.Repository}}:{{.Tag}}"):
        ok(darsed, "import", debian_tar, "debian:latest")
    (tmp_path / "Dockerfile").write_text("FROM debian:latest\nRUN useradd -u 1111 user1\n"
                                         "RUN useradd -u 1113 user3\n")
    ok(darsed, "build", "-t", "seedimage:v1.0", str(tmp_path))
    name, uid = users
    assert ok(darsed, "run", "--rm", "-u", name, "seedimage:v1.0", "id", "-u") == f"{uid}\n"


def test_workdir_is_made_and_copy_dot_lands_in_it(darsed: Darsed, tmp_path) -> None:
    """As Docker: WORKDIR makes a missing folder in a layer of its own (an existing one
    costs no layer), so `COPY file .` puts the file in it instead of making a file of it."""
    (tmp_path / "motd").write_text("MOTD\n")
    (tmp_path / "Dockerfile").write_text(
        "FROM busybox\nWORKDIR /app/sub\nCOPY motd .\nWORKDIR /etc\nCOPY motd ./m2\n"
        "RUN pwd && test -d /app/sub && cat /app/sub/motd /etc/m2\n")
    out = ok(darsed, "build", "-t", "workdir:1", str(tmp_path))
    assert "/etc\nMOTD\nMOTD\n" in out
    layers = [json.loads(ok(darsed, "image", "inspect", name))[0]["RootFS"]["Layers"]
              for name in ("busybox", "workdir:1")]
    # WORKDIR /app/sub and the 2 COPY; the RUN changes nothing: no layer (docker: 4 in all)
    assert len(layers[1]) == len(layers[0]) + 3
    assert ok(darsed, "run", "--rm", "workdir:1", "pwd") == "/etc\n"
    ok(darsed, "rmi", "workdir:1")
