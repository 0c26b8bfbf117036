"""What `darse run` goes through on its way to a running process, kept as a user sees it
while it is made faster (figures: bench/run_latency.py)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.test_cli import darse, ok
from tests.daemon import Darsed

NO_MKDIR = json.dumps({
    "defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]})
NO_CHMOD = json.dumps({
    "defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [{"names": ["chmod", "fchmodat"], "action": "SCMP_ACT_ERRNO",
                  "errnoRet": 1}]})
SCRIPT = ("mkdir /tmp/d && echo mkdir-ok; touch /tmp/f; chmod 600 /tmp/f && echo chmod-ok; "
          "hostname x 2>/dev/null && echo hostname-ok; true")


def run_with(d: Darsed, *opts: str) -> list[str]:
    return ok(d, "run", "--rm", "--network", "none", *opts, "busybox", "sh", "-c",
              SCRIPT).split()


def profile_file(tmp_path: Path, name: str, profile: str) -> str:
    """seccomp=FILE, as the docker CLI takes it (it sends the file's JSON)."""
    path = tmp_path / name
    path.write_text(profile)
    return str(path)


def test_each_container_gets_its_own_seccomp_profile(darsed: Darsed, tmp_path: Path) -> None:
    """The shim keeps compiled filters between containers: each still gets the program of
    its own profile, whichever ran before it."""
    no_mkdir = profile_file(tmp_path, "no-mkdir.json", NO_MKDIR)
    no_chmod = profile_file(tmp_path, "no-chmod.json", NO_CHMOD)
    for _ in range(2):
        assert run_with(darsed, "--security-opt", f"seccomp={no_mkdir}") == ["chmod-ok"]
        assert run_with(darsed, "--security-opt", f"seccomp={no_chmod}") == ["mkdir-ok"]
        assert run_with(darsed) == ["mkdir-ok", "chmod-ok"]  # Docker's: no sethostname
        assert run_with(darsed, "--cap-add", "SYS_ADMIN") == ["mkdir-ok", "chmod-ok",
                                                               "hostname-ok"]


def test_a_profile_libseccomp_refuses_fails_the_run(darsed: Darsed, tmp_path: Path) -> None:
    bad = json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
         "args": [{"index": 9, "value": 1, "op": "SCMP_CMP_EQ"}]}]})
    done = darse(darsed, "run", "--rm", "--network", "none", "--security-opt",
                 f"seccomp={profile_file(tmp_path, 'bad.json', bad)}", "busybox", "true")
    assert done.returncode != 0 and "seccomp" in done.stderr, done.stderr
    assert ok(darsed, "ps", "-aq") == ""
