"""docker build of a 6-step Dockerfile with a 20 MiB context: a fully cached rebuild and
a cold one (--no-cache), median of N runs, through each CLI (context packing, upload and
the daemon's work all count).

Side by side: darse (a private darsed, tests/daemon.py) and docker's classic builder
(a private dockerd, DOCKER_BUILDKIT=0) when docker.io is installed.

    sudo /opt/darse/venv/bin/python bench/build.py [-n 7]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from darse.image import busybox  # noqa: E402
from tests.build.compare import darse_cli  # noqa: E402
from tests.build.conftest import DOCKER_CLI, DOCKERD, Dockerd  # noqa: E402
from tests.daemon import new_daemon  # noqa: E402

MB = 1 << 20
DOCKERFILE = """\
FROM busybox
ENV APP=/app
WORKDIR /app
COPY . /app/
RUN echo built > /built && du -s /app
CMD ["cat", "/built"]
"""


def make_context(path: Path) -> None:
    path.mkdir()
    (path / "Dockerfile").write_text(DOCKERFILE)
    (path / "src").mkdir()
    for i in range(16):
        (path / f"blob{i}.bin").write_bytes(os.urandom(MB))
    for i in range(400):  # many small files, as a source tree has
        (path / "src" / f"mod{i}.py").write_text(f"VALUE = {i}\n" * 1000)


def timed(run) -> float:  # noqa: ANN001
    start = time.perf_counter()
    done = run()
    elapsed = time.perf_counter() - start
    assert done.returncode == 0, done.stderr
    return elapsed


def median_ms(samples: list[float]) -> str:
    return (f"{statistics.median(samples) * 1000:7.0f} ms  "
            f"(min {min(samples) * 1000:.0f}, max {max(samples) * 1000:.0f})")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("-n", type=int, default=7)
    n = p.parse_args().n
    base = Path(tempfile.mkdtemp(prefix="darse-bench-build-"))
    rootfs = base / "rootfs"
    busybox.make_rootfs(str(rootfs))
    ctx = base / "ctx"
    make_context(ctx)
    size = sum(f.stat().st_size for f in ctx.rglob("*") if f.is_file())
    print(f"context: {size / MB:.1f} MiB, {sum(1 for _ in ctx.rglob('*'))} entries; "
          f"Dockerfile: {DOCKERFILE.count(chr(10))} steps; median of {n}")
    engines = []
    darsed = new_daemon()
    darsed.start()
    darsed.import_busybox(str(rootfs))
    engines.append(("darse", lambda *a: darse_cli(darsed, *a)))
    dockerd = None
    if DOCKERD and DOCKER_CLI:
        dockerd = Dockerd(base / "dockerd")
        dockerd.base.mkdir()
        dockerd.start()
        tar = base / "busybox.tar"
        with tarfile.open(tar, "w") as tf:
            tf.add(rootfs, arcname=".")
        dockerd.ok("import", "--change", 'CMD ["sh"]', str(tar), "busybox:latest")
        engines.append(("docker", lambda *a: dockerd.run(*a)))
    try:
        for name, cli in engines:
            assert cli("build", "-q", "-t", "bench:1", str(ctx)).returncode == 0
            cached = [timed(lambda: cli("build", "-q", "-t", "bench:1", str(ctx)))  # noqa: B023
                      for _ in range(n)]
            cold = [timed(lambda: cli("build", "-q", "--no-cache", "-t", "bench:1",  # noqa: B023
                                      str(ctx))) for _ in range(n)]
            print(f"{name:7} cached rebuild {median_ms(cached)}")
            print(f"{name:7} cold build     {median_ms(cold)}")
    finally:
        darsed.stop()
        shutil.rmtree(darsed.base, ignore_errors=True)
        if dockerd is not None:
            dockerd.stop()
        subprocess.run(["rm", "-rf", str(base)], check=False)


if __name__ == "__main__":
    main()
