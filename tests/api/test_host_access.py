"""What a local user who is not root can reach of darse's data and exec roots: nothing.

A container's root can plant a setuid binary in its upper layer or in a volume; a
host user who can walk to it becomes root (the class of CVE-2021-41091). Containers'
environments (secrets) sit in state.db, config.json, the runtime's state and the logs.
"""

from __future__ import annotations

import json
import subprocess
import sys

from tests.cli.test_cli import darse
from tests.daemon import Darsed

NOBODY = 65534

# Run as nobody: every path under the roots that nobody can stat, and the files it can read.
WALK = r"""
import json, os, sys
reached, readable = [], []
for top in sys.argv[1:]:
    for root, dirs, files in os.walk(top):
        for name in dirs + files:
            path = os.path.join(root, name)
            reached.append(path)
            if os.path.isfile(path) and os.access(path, os.R_OK):
                readable.append(path)
print(json.dumps({"reached": reached, "readable": readable}))
"""


def as_nobody(*args: str, executable: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), executable=executable, capture_output=True, text=True,
                          user=NOBODY, group=NOBODY, extra_groups=[], cwd="/", timeout=60)


def test_nobody_reaches_nothing_under_the_roots(darsed: Darsed) -> None:
    secret = "s3cr3t-value-4242"
    run = darse(darsed, "run", "-d", "--name", "planter", "-e", f"TOKEN={secret}",
                "-v", "plantvol:/vol", "busybox", "sh", "-c",
                f"cp /bin/busybox /evil && chmod 4755 /evil && cp /evil /vol/evil && "
                f"echo {secret} && sleep 1000")
    assert run.returncode == 0, run.stderr
    cid = run.stdout.strip()
    try:
        doc = json.loads(darse(darsed, "inspect", cid).stdout)[0]
        upper = doc["GraphDriver"]["Data"]["UpperDir"]
        vol = json.loads(darse(darsed, "volume", "inspect", "plantvol").stdout)[0]
        assert darse(darsed, "logs", cid).stdout.strip() == secret  # it ran

        # The planted setuid shells are out of reach, by their known paths too.
        for planted in (f"{upper}/evil", f"{vol['Mountpoint']}/evil"):
            try:
                out = as_nobody("id", "-u", executable=planted)  # busybox's applet 'id'
            except PermissionError:
                continue
            raise AssertionError(f"nobody ran {planted}: {out.stdout} {out.stderr}")

        walked = as_nobody(sys.executable, "-I", "-c", WALK, darsed.data_root,
                            darsed.exec_root)
        assert walked.returncode == 0, walked.stderr
        seen = json.loads(walked.stdout)
        assert seen["reached"] == [], seen["reached"][:20]
        assert seen["readable"] == []

        # Nor by grep from the roots' parents (the files themselves are root-only too).
        modes = {f"{darsed.data_root}/state.db": "600", f"{darsed.data_root}/state.db-wal": "600",
                 doc["LogPath"]: "640", f"{darsed.data_root}/containers/{cid}/config.json": "600"}
        for path, mode in modes.items():
            st = subprocess.run(["stat", "-c", "%a", path], capture_output=True, text=True)
            assert st.stdout.strip() == mode, (path, st.stdout, st.stderr)
    finally:
        darse(darsed, "rm", "-f", cid)
        darse(darsed, "volume", "rm", "plantvol")
