"""darse's CLI and the docker CLI (Debian's, 20.10) against the same darsed: for bad flag
values, missing objects and refusals, the same words on the same stream and the same
exit status, the program's name aside. Nothing is created by a refused command."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from tests.cli.test_cli import darse, ok
from tests.daemon import DOCKER, Darsed

ENV_FILE = "# comment\n  A=1\nNOT_SET_ANYWHERE\nC=x y \n"
BAD_ENV_FILE = "X Y=1\n"

COMMANDS = [
    # typed flags, as pflag parses them
    "create -m foo busybox", "create -m -1 busybox", "create --memory-swap x busybox",
    "create --shm-size 1.2.3 busybox", "create -c foo busybox",
    "create --cpu-shares 99999999999999999999 busybox", "create --cpus x busybox",
    "create --cpus 0.0000000001 busybox", "create --blkio-weight -1 busybox",
    "create --blkio-weight 70000 busybox", "create --pids-limit x busybox",
    "create --stop-timeout 1.5 busybox", "create --oom-score-adj x busybox",
    "create --health-interval 99999999999999999999 busybox",
    "create --health-retries x busybox", "update --cpus x nosuch",
    "update -m foo nosuch", "update --blkio-weight 70000 nosuch",
    # list flags with a validator
    "create --add-host foo busybox", "create --add-host a:b busybox",
    "create --add-host :1.2.3.4 busybox", "create -a foo busybox",
    "create --dns foo busybox", "create --dns-search -1 busybox", "create -e =1 busybox",
    "exec -e =x nosuch true",
    # values checked after parsing ("PROG: ...")
    "create --expose 80-x busybox", "create --expose 70000 busybox",
    "create --expose 1:2 busybox", "create --expose 90-80 busybox",
    "create -p 80/foo busybox", "create -p 70000 busybox", "create -p x:80 busybox",
    "create -p 1-3:4-5 busybox", "create --security-opt label busybox",
    "create --security-opt seccomp=/nonexistent busybox", "create --platform foo busybox",
    "run --platform foo busybox", "create --pid foo busybox", "create --uts x busybox",
    "create --mac-address foo busybox", "create --health-retries -1 busybox",
    "create --gpus count=x busybox", "create --env-file /nonexistent busybox",
    "create --env-file {bad_env} busybox", "create --label-file {bad_env} busybox",
    "exec --env-file /nonexistent nosuch true", "create --log-opt foo busybox",
    "create --detach-keys x busybox", "create -d busybox",
    # missing objects: the docker client's own words on inspect and rm
    "rm nosuch", "rm nosuch nosuch2", "rmi nosuch", "volume rm nosuch",
    "network rm nosuch", "inspect nosuch", "inspect --type image nosuch",
    "inspect --type network nosuch", "inspect --type bogus nosuch",
    "inspect -f '{{{{.Name}}}}' nosuch", "volume inspect nosuch",
    "network inspect nosuch", "container inspect nosuch", "image inspect nosuch",
    "logs nosuch", "exec nosuch true", "start nosuch nosuch2", "rename nosuch x",
    "stop nosuch", "kill nosuch", "port nosuch",
    "tag busybox UPPER", "tag busybox a:b@c", "tag busybox a::b",
    "logs --since bogus nosuch", "events --since bogus", "events --until 1.2.3",
    # an unreachable registry: an HTTP error before any progress
    "pull 127.0.0.1:1/x", "create 127.0.0.1:1/x", "run --rm 127.0.0.1:1/x",
]


def normalised(text: str) -> str:
    text = re.sub(r"\b[0-9a-f]{64}\b", "ID", text)
    return text.replace("docker:", "darse:").replace("'docker ", "'darse ")


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    base = tmp_path_factory.mktemp("envfiles")
    (base / "env").write_text(ENV_FILE)
    (base / "bad").write_text(BAD_ENV_FILE)
    return {"env": str(base / "env"), "bad_env": str(base / "bad")}


@pytest.mark.parametrize("command", COMMANDS)
def test_same_words_as_the_docker_cli(darsed: Darsed, files: dict[str, str],
                                      command: str) -> None:
    assert DOCKER is not None, "install.sh installs docker.io"
    args = shlex.split(command.format(**files))
    theirs = darsed.docker(*args)
    mine = darse(darsed, *args)
    assert (mine.returncode, normalised(mine.stdout), normalised(mine.stderr)) == \
        (theirs.returncode, normalised(theirs.stdout), normalised(theirs.stderr))
    assert ok(darsed, "ps", "-aq") == ""  # refused: nothing made


def test_env_file_as_docker_reads_it(darsed: Darsed, files: dict[str, str]) -> None:
    """Leading blanks and comments skipped, values untouched (a trailing blank kept), a
    lone name not set anywhere dropped from the process' environment."""
    for tool in (darsed.docker, lambda *a: darse(darsed, *a)):
        done = tool("run", "--rm", "--network", "none", "--env-file", files["env"],
                    "busybox", "sh", "-c", "env | grep -E '^(A|C|NOT_SET_ANYWHERE)' | sort")
        assert done.returncode == 0, done.stderr
        assert done.stdout == "A=1\nC=x y \n"


def test_seccomp_profile_file_is_read_by_the_cli(darsed: Darsed, tmp_path: Path) -> None:
    profile = tmp_path / "p.json"
    profile.write_text('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir",'
                       ' "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}')
    out = ok(darsed, "create", "--security-opt", f"seccomp={profile}", "busybox").strip()
    try:
        opts = ok(darsed, "inspect", "-f", "{{json .HostConfig.SecurityOpt}}", out)
        assert '"seccomp={\\"defaultAction\\":\\"SCMP_ACT_ALLOW\\"' in opts
    finally:
        darse(darsed, "rm", "-f", out)


USAGE_ERRORS = ["rm", "ps x", "logs", "logs a b", "exec", "exec a", "network create",
                "rename a", "port", "port a b c", "images a b c", "tag a", "inspect", "pull",
                "volume create a b", "run", "create", "cp a", "commit", "top", "build",
                "login a b", "network connect a", "wait"]


@pytest.mark.parametrize("command", USAGE_ERRORS)
def test_argument_counts_as_the_docker_cli(darsed: Darsed, command: str) -> None:
    """cobra's words and status 1, then the usage line (the description docker prints
    after it is its own text)."""
    args = shlex.split(command)
    theirs, mine = darsed.docker(*args), darse(darsed, *args)
    assert mine.returncode == theirs.returncode == 1
    assert mine.stderr.splitlines()[:4] == theirs.stderr.replace(
        "docker", "darse").splitlines()[:4]
