"""docker diff through darsed: what a container added, changed and deleted, as dockerd
20.10 lists it for the same commands (checked by hand against a private dockerd)."""

from __future__ import annotations

import json

from tests.cli.test_cli import darse
from tests.daemon import Darsed

SCRIPT = ("touch /tmp/new; echo >> /etc/passwd; rm /bin/ls; rm -rf /home; mkdir /home; "
          "echo 1 > /home/x; mkdir -p /a/b")
DOCKERD = {"A /a", "A /a/b", "C /bin", "D /bin/ls", "C /home", "A /home/x", "A /newvol",
           "C /tmp", "A /tmp/new", "C /etc", "C /etc/passwd"}


def test_diff(docker: Darsed) -> None:
    done = docker.docker("run", "--name", "dd", "-v", "dvol:/newvol", "busybox", "sh", "-c",
                         SCRIPT)
    assert done.returncode == 0, done.stderr
    done = docker.docker("run", "--name", "dd2", "busybox", "true")
    try:
        out = docker.docker("diff", "dd")
        assert out.returncode == 0 and set(out.stdout.splitlines()) == DOCKERD
        assert len(out.stdout.splitlines()) == len(DOCKERD)
        mine = darse(docker, "diff", "dd")
        assert mine.returncode == 0 and sorted(mine.stdout.splitlines()) == sorted(DOCKERD)
        assert mine.stdout.splitlines() == sorted(mine.stdout.splitlines(),
                                                  key=lambda line: line[2:])
        # Nothing changed: null, and nothing printed.
        assert docker.api("GET", "/containers/dd2/changes") == (200, b"null")
        assert docker.docker("diff", "dd2").stdout == ""
        assert darse(docker, "container", "diff", "dd2").stdout == ""
        status, body = docker.api("GET", "/containers/dd/changes")
        assert {"Path": "/bin/ls", "Kind": 2} in json.loads(body)
        gone = darse(docker, "diff", "nosuch")
        assert (gone.returncode, gone.stderr) == (
            1, "Error response from daemon: No such container: nosuch\n")
    finally:
        docker.docker("rm", "-f", "dd", "dd2")
        docker.docker("volume", "rm", "dvol")
