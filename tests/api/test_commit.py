"""docker commit through darsed: the container's changes as a layer over its image, the
config with --change applied, the message and author, the container paused meanwhile
and running after (expected values as dockerd 20.10 gives them)."""

from __future__ import annotations

import json

from tests.cli.test_cli import darse
from tests.daemon import Darsed


def ok(d: Darsed, *args: str) -> str:
    done = d.docker(*args)
    assert done.returncode == 0, f"docker {' '.join(args)}: {done.stderr}"
    return done.stdout


def test_commit_docker_cli(docker: Darsed) -> None:
    ok(docker, "run", "-d", "--name", "cm", "-e", "FOO=bar", "busybox", "sh", "-c",
       "echo hi > /hello; rm /bin/ls; touch /ready; sleep 1000")
    try:
        for _ in range(100):
            if docker.docker("exec", "cm", "test", "-e", "/ready").returncode == 0:
                break
        out = ok(docker, "commit", "-m", "my msg", "-a", "me <me@x>", "-c",
                 'CMD ["cat","/hello"]', "-c", "ENV A=1", "cm", "cmimg:v1")
        image_id = out.strip()
        assert image_id.startswith("sha256:") and len(image_id) == 71
        assert ok(docker, "inspect", "-f", "{{.State.Running}} {{.State.Paused}}",
                  "cm") == "true false\n"
        info = json.loads(ok(docker, "image", "inspect", "cmimg:v1"))[0]
        busybox = json.loads(ok(docker, "image", "inspect", "busybox"))[0]
        assert info["Id"] == image_id and info["Parent"] == busybox["Id"]
        assert (info["Comment"], info["Author"]) == ("my msg", "me <me@x>")
        assert info["Container"] == ok(docker, "inspect", "-f", "{{.Id}}", "cm").strip()
        assert info["Config"]["Cmd"] == ["cat", "/hello"]
        assert "FOO=bar" in info["Config"]["Env"] and "A=1" in info["Config"]["Env"]
        assert len(info["RootFS"]["Layers"]) == len(busybox["RootFS"]["Layers"]) + 1
        history = ok(docker, "history", "--no-trunc", "--format",
                     "{{.CreatedBy}}|{{.Comment}}", "cmimg:v1").splitlines()
        assert history[0] == "sh -c echo hi > /hello; rm /bin/ls; touch /ready; sleep 1000" \
                             "|my msg"
        assert ok(docker, "run", "--rm", "cmimg:v1") == "hi\n"
        gone = docker.docker("run", "--rm", "cmimg:v1", "ls")
        assert gone.returncode == 127  # the deletion is in the layer
        # No repository: a dangling image; the API's 201 and its Id.
        status, body = docker.api("POST", "/commit?container=cm&comment=c1&pause=0",
                                  {"Cmd": ["echo", "api"]})
        assert status == 201
        api_id = json.loads(body)["Id"]
        assert ok(docker, "run", "--rm", api_id) == "api\n"
        for change, message in (("FROM x", "from is not a valid change command"),
                                ("ENV", "ENV requires at least one argument"),
                                ("USER", "USER requires exactly one argument")):
            bad = docker.docker("commit", "-c", change, "cm")
            assert (bad.returncode, bad.stderr) == (1, f"Error response from daemon: "
                                                       f"{message}\n")
        # import reads the same --change instructions, with the same words
        bad = docker.docker("import", "-c", "FROM x", "-", "x", input="\n")
        assert bad.stderr.endswith("from is not a valid change command\n")
        missing = docker.docker("commit", "nosuch", "x")
        assert missing.stderr == "Error response from daemon: No such container: nosuch\n"
        ok(docker, "rmi", "cmimg:v1", api_id)
    finally:
        docker.docker("rm", "-f", "cm")


def test_commit_darse_cli(darsed: Darsed) -> None:
    done = darse(darsed, "run", "--name", "cm2", "busybox", "sh", "-c", "echo made > /made")
    assert done.returncode == 0, done.stderr
    try:
        done = darse(darsed, "commit", "--pause=false", "-c", "ENTRYPOINT [\"cat\"]",
                     "-c", "CMD [\"/made\"]", "cm2", "mine:1")
        assert done.returncode == 0 and done.stdout.startswith("sha256:"), done.stderr
        out = darse(darsed, "run", "--rm", "mine:1")
        assert out.stdout == "made\n"
        bad = darse(darsed, "container", "commit", "-c", "BOGUS y", "cm2")
        assert (bad.returncode, bad.stderr) == (
            1, "Error response from daemon: bogus is not a valid change command\n")
        bad = darse(darsed, "commit", "cm2", "a b")
        assert (bad.returncode, bad.stderr) == (1, "invalid reference format\n")
        assert darse(darsed, "rmi", "mine:1").returncode == 0
    finally:
        darse(darsed, "rm", "-f", "cm2")
