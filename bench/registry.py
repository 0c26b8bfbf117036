"""Push and pull of a ~100 MiB image (4 layers of random bytes) through darse's registry
(`darse registry serve`) and through Debian's docker-registry (2.8), side by side, both on
127.0.0.1 with their own empty roots; the client is skopeo for both (push: an OCI layout
to a new repository each run, so every blob is sent; pull: to a `dir:` folder, fetch only).
Medians of N runs.

    sudo /opt/darse/venv/bin/python bench/registry.py [-n 5] [--mib 100]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tests.image.conftest import RegistryServer  # noqa: E402
from tests.ocilayout import Layout, tar_of_entries  # noqa: E402
from tests.registry.conftest import DarseRegistry  # noqa: E402


def make_image(path: Path, mib: int, layers: int = 4) -> None:
    per = mib * (1 << 20) // layers
    Layout(path).image([tar_of_entries([(f"data{i}", "file", os.urandom(per))])
                        for i in range(layers)], compress="none")


def skopeo(*args: str) -> float:
    start = time.monotonic()
    subprocess.run(["skopeo", "copy", "--quiet", "--src-tls-verify=false",
                    "--dest-tls-verify=false", *args], check=True, capture_output=True)
    return time.monotonic() - start


def start(kind: str, base: Path) -> DarseRegistry | RegistryServer:
    base.mkdir(parents=True)
    return DarseRegistry(base) if kind == "darse registry" else RegistryServer(base)


def once(kind: str, image: Path, base: Path) -> tuple[float, float]:
    """A new, empty registry for each run: skopeo remembers where it pushed a blob and
    would mount it from there instead of sending it again."""
    server = start(kind, base)
    try:
        ref = f"docker://{server.host}/bench/app:latest"
        return skopeo(f"oci:{image}:latest", ref), skopeo(ref, f"dir:{base / 'pulled'}")
    finally:
        server.stop()
        shutil.rmtree(base)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=5)
    parser.add_argument("--mib", type=int, default=100)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="darse-bench-registry-"))
    try:
        image = work / "image"
        make_image(image, args.mib)
        print(f"{args.mib} MiB image, 4 layers, skopeo, median of {args.n} runs")
        print(f"{'registry':<18}{'push (s)':>10}{'pull (s)':>10}{'push MiB/s':>12}"
              f"{'pull MiB/s':>12}")
        kinds = ("darse registry", "docker-registry")
        times: dict[str, list[tuple[float, float]]] = {k: [] for k in kinds}
        for i in range(args.n):  # interleaved, so that a busy moment hits both
            for kind in kinds:
                times[kind].append(once(kind, image, work / f"{kind.replace(' ', '-')}-{i}"))
        for kind in kinds:
            push = statistics.median(t[0] for t in times[kind])
            pull = statistics.median(t[1] for t in times[kind])
            print(f"{kind:<18}{push:>10.2f}{pull:>10.2f}{args.mib / push:>12.0f}"
                  f"{args.mib / pull:>12.0f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
