"""Healthchecks through darsed, as dockerd 20.10 shows them (checked side by side with a
private dockerd): State.Health, ps's STATUS and --filter health=, health_status events,
the image's HEALTHCHECK, the docker CLI's refusals."""

from __future__ import annotations

import json
import subprocess
import time

from tests.cli.test_cli import darse
from tests.daemon import Darsed


def ok(d: Darsed, *args: str, cli: str = "docker", input: str | None = None) -> str:
    done = d.docker(*args, input=input) if cli == "docker" else darse(d, *args, input=input)
    assert done.returncode == 0, f"{cli} {' '.join(args)}: {done.stderr}"
    return done.stdout


def health(d: Darsed, name: str) -> dict:
    return json.loads(ok(d, "inspect", "-f", "{{json .State.Health}}", name))


def until(fn, timeout: float = 15) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not fn():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_health_cycle_docker_cli(docker: Darsed) -> None:
    events = subprocess.Popen(
        ["docker", "-H", docker.host, "events", "--filter", "container=h1", "--format",
         "{{.Action}}"], stdout=subprocess.PIPE, text=True)
    try:
        ok(docker, "run", "-d", "--name", "h1", "--health-cmd", "echo probed; test -e /tmp/ok",
           "--health-interval", "300ms", "--health-retries", "2", "busybox", "sleep", "100")
        assert "(health: starting)" in ok(docker, "ps", "--filter", "name=h1")
        assert health(docker, "h1")["Status"] == "starting"
        until(lambda: health(docker, "h1")["Status"] == "unhealthy")
        h = health(docker, "h1")
        assert h["FailingStreak"] >= 2
        assert h["Log"][-1]["ExitCode"] == 1 and h["Log"][-1]["Output"] == "probed\n"
        assert "(unhealthy)" in ok(docker, "ps", "--filter", "name=h1")
        assert ok(docker, "ps", "-q", "--filter", "health=unhealthy").strip()
        ok(docker, "exec", "h1", "touch", "/tmp/ok")
        until(lambda: health(docker, "h1")["Status"] == "healthy")
        h = health(docker, "h1")
        assert h["FailingStreak"] == 0 and len(h["Log"]) <= 5
        until(lambda: len(health(docker, "h1")["Log"]) == 5)
        time.sleep(0.7)
        assert len(health(docker, "h1")["Log"]) == 5  # the last five only
        assert "(healthy)" in ok(docker, "ps", "--filter", "name=h1")
        cid = ok(docker, "ps", "-q", "--no-trunc", "--filter", "name=h1").strip()
        assert ok(docker, "ps", "-q", "--no-trunc", "--filter", "health=healthy"
                  ).split() == [cid]
        assert cid not in ok(docker, "ps", "-q", "--no-trunc", "--filter", "health=none")
        ok(docker, "stop", "-t", "0", "h1")
        assert health(docker, "h1")["Status"] == "unhealthy"  # as dockerd shows it stopped
        logged = len(health(docker, "h1")["Log"])
        time.sleep(0.8)
        assert len(health(docker, "h1")["Log"]) == logged  # no probes of a stopped one
    finally:
        docker.docker("rm", "-f", "h1")
        events.terminate()
    actions = events.communicate(timeout=10)[0].splitlines()
    assert "health_status: unhealthy" in actions and "health_status: healthy" in actions
    # One event per change, not per probe (dockerd's).
    assert actions.count("health_status: healthy") == 1
    assert any(a.startswith("exec_start: /bin/sh -c echo probed; test -e /tmp/ok") for a in actions)


def test_health_darse_cli_and_filters(darsed: Darsed) -> None:
    ok(darsed, "run", "-d", "--name", "h2", "--health-cmd", "true", "--health-interval",
       "200ms", "busybox", "sleep", "100", cli="darse")
    ok(darsed, "run", "-d", "--name", "h3", "busybox", "sleep", "100", cli="darse")
    try:
        until(lambda: health(darsed, "h2")["Status"] == "healthy")
        assert "(healthy)" in ok(darsed, "ps", "--filter", "name=h2", cli="darse")
        assert ok(darsed, "ps", "--format", "{{.Names}}", "--filter", "health=none",
                  cli="darse").split() == ["h3"]
        done = darse(darsed, "ps", "--filter", "health=bogus")
        assert done.returncode != 0
        assert "Unrecognised filter value for health: bogus" in done.stderr
        assert health(darsed, "h3") is None
    finally:
        darse(darsed, "rm", "-f", "h2", "h3")


def test_health_flags_refused_as_docker(darsed: Darsed) -> None:
    for cli in ("darse", "docker"):
        run = darse if cli == "darse" else Darsed.docker
        done = run(darsed, "run", "--no-healthcheck", "--health-retries", "2", "busybox")
        assert done.returncode == 125
        assert "--no-healthcheck conflicts with --health-* options" in done.stderr
        done = run(darsed, "run", "--health-interval", "-1s", "--health-cmd", "true", "busybox")
        assert "--health-interval cannot be negative" in done.stderr
        done = run(darsed, "run", "--health-interval", "x", "busybox")
        assert 'invalid argument "x" for "--health-interval" flag: time: invalid duration ' \
               '"x"' in done.stderr
    # From the API: dockerd's words.
    status, out = darsed.api("POST", "/containers/create", {
        "Image": "busybox", "Healthcheck": {"Test": ["CMD", "true"], "Interval": 1000}})
    assert status == 400 and b"Interval in Healthcheck cannot be less than 1ms" in out


def test_image_healthcheck_and_no_healthcheck(docker: Darsed) -> None:
    dockerfile = ('FROM busybox\nHEALTHCHECK --interval=200ms --retries=1 '
                  'CMD ["sh", "-c", "exit 1"]\n')
    ok(docker, "build", "-q", "-t", "hcimg", "-", input=dockerfile)
    try:
        ok(docker, "run", "-d", "--name", "h4", "hcimg", "sleep", "100")
        until(lambda: health(docker, "h4")["Status"] == "unhealthy")
        cfg = json.loads(ok(docker, "inspect", "-f", "{{json .Config.Healthcheck}}", "h4"))
        assert cfg["Test"] == ["CMD", "sh", "-c", "exit 1"] and cfg["Interval"] == 200000000
        # --health-cmd over the image's test keeps the image's interval.
        ok(docker, "run", "-d", "--name", "h5", "--health-cmd", "true", "hcimg", "sleep",
           "100")
        until(lambda: health(docker, "h5")["Status"] == "healthy", 5)
        ok(docker, "run", "-d", "--name", "h6", "--no-healthcheck", "hcimg", "sleep", "100")
        time.sleep(0.5)
        assert health(docker, "h6") is None
        assert "health" not in ok(docker, "ps", "--filter", "name=h6")
    finally:
        docker.docker("rm", "-f", "h4", "h5", "h6")
        docker.docker("rmi", "hcimg")


def test_health_probe_timeout(docker: Darsed) -> None:
    ok(docker, "run", "-d", "--name", "h7", "--health-cmd", "sleep 30", "--health-timeout",
       "200ms", "--health-interval", "300ms", "--health-retries", "1", "busybox", "sleep",
       "100")
    try:
        until(lambda: health(docker, "h7")["Status"] == "unhealthy")
        entry = health(docker, "h7")["Log"][0]
        assert (entry["ExitCode"], entry["Output"]) == (
            -1, "Health check exceeded timeout (200ms)")
        # The probe that outlived its timeout was killed: no sleep 30 piles up.
        time.sleep(1)
        procs = ok(docker, "top", "h7")
        assert procs.count("sleep 30") <= 1, procs
    finally:
        docker.docker("rm", "-f", "h7")


def test_health_goes_on_after_darsed_restart(busybox_rootfs: str) -> None:
    import shutil
    import signal

    from tests.daemon import leftover_mounts, new_daemon

    d = new_daemon()
    try:
        d.start()
        d.import_busybox(busybox_rootfs)
        ok(d, "run", "-d", "--name", "hr", "--health-cmd", "true", "--health-interval",
           "200ms", "busybox", "sleep", "100")
        until(lambda: health(d, "hr")["Status"] == "healthy")
        d.kill(signal.SIGKILL)
        d.start()
        assert health(d, "hr")["Status"] == "healthy"  # kept, as dockerd's restore
        last = health(d, "hr")["Log"][-1]["Start"]
        until(lambda: health(d, "hr")["Log"][-1]["Start"] != last, 5)  # probed again
    finally:
        d.stop()
        assert leftover_mounts(str(d.base)) == []
        shutil.rmtree(d.base, ignore_errors=True)
