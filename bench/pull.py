"""Pull of a ~100 MB, 6-layer image (random, text, many small files) from a local
registry (Debian's docker-registry on 127.0.0.1) with an empty cache, median of N runs.

Side by side: darse (the library, in-process), `skopeo copy` to a dir (fetch only, no
unpacking: a floor), and `docker pull` / `podman pull` when they are installed and a
daemon answers.

    sudo /opt/darse/venv/bin/python bench/pull.py [-n 5]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from darse.image import reference  # noqa: E402
from darse.image.pull import pull  # noqa: E402
from darse.image.store import ImageStore  # noqa: E402
from tests.image.conftest import RegistryServer  # noqa: E402
from tests.ocilayout import Layout, tar_of_entries  # noqa: E402

MB = 1 << 20


def layers(salt: int = 0) -> list[bytes]:
    """The image's layers; another salt makes another image (every layer's digest new),
    so that a pull can start from an empty cache without deleting the last one's files
    (see bench/README.md: ext4's inode allocator after mass deletions)."""
    rng = random.Random(42 + salt)
    words = [("".join(rng.choice("abcdefghij") for _ in range(rng.randint(3, 9))))
             for _ in range(2000)]

    def text(n: int) -> bytes:
        out, size = [], 0
        while size < n:
            w = rng.choice(words)
            out.append(w)
            size += len(w) + 1
        return " ".join(out).encode()

    small = [(f"usr/share/doc/f{i // 100}/file{i}.txt", "file", text(2000)) for i in range(5000)]
    dirs = sorted({(os.path.dirname(n), "dir", b"") for n, _, _ in small})
    return [
        tar_of_entries([("random1.bin", "file", os.urandom(30 * MB))]),
        tar_of_entries([("text1.txt", "file", text(25 * MB))]),
        tar_of_entries([("usr", "dir", b""), ("usr/share", "dir", b""),
                        ("usr/share/doc", "dir", b""), *dirs, *small]),
        tar_of_entries([("random2.bin", "file", os.urandom(20 * MB))]),
        tar_of_entries([("text2.txt", "file", text(10 * MB))]),
        tar_of_entries([("etc", "dir", b""), ("etc/config", "file", text(MB))]),
    ]


def median_ms(samples: list[float]) -> str:
    return (f"{statistics.median(samples) * 1000:8.0f} ms  "
            f"(min {min(samples) * 1000:.0f}, max {max(samples) * 1000:.0f})")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("-n", type=int, default=5)
    n = p.parse_args().n
    # On the disk a data root lives on (not /tmp), and nothing is deleted between runs:
    # deletions on a disk mounted with discard slow the next run's file creation.
    base = tempfile.mkdtemp(prefix="darse-bench-pull-", dir="/var/lib")
    registry = RegistryServer(Path(_mk(base, "registry")))
    try:
        layout = Layout(Path(_mk(base, "layout")))
        raw = layers()
        layout.image(raw)
        registry.push_layout(layout.path, "bench/big")
        name = f"{registry.host}/bench/big:latest"
        print(f"image: {len(raw)} layers, {sum(map(len, raw)) / MB:.0f} MB uncompressed")
        results: dict[str, list[float]] = {"darse (library)": [], "skopeo copy (fetch only)": []}
        for i in range(n):
            data = _mk(base, f"darse{i}")
            t0 = time.perf_counter()
            pull(ImageStore(data), reference.parse(name))
            results["darse (library)"].append(time.perf_counter() - t0)
            os.sync()
            out = _mk(base, f"skopeo{i}")
            t0 = time.perf_counter()
            subprocess.run(["skopeo", "copy", "--quiet", "--src-tls-verify=false",
                            f"docker://{name}", f"dir:{out}"], check=True)
            results["skopeo copy (fetch only)"].append(time.perf_counter() - t0)
            os.sync()
        for tool in ("docker", "podman"):
            if shutil.which(tool) and subprocess.run([tool, "info"], capture_output=True
                                                     ).returncode == 0:
                samples = []
                for _ in range(n):
                    subprocess.run([tool, "rmi", "-f", name], capture_output=True)
                    t0 = time.perf_counter()
                    subprocess.run([tool, "pull", "-q", name], check=True, capture_output=True)
                    samples.append(time.perf_counter() - t0)
                subprocess.run([tool, "rmi", "-f", name], capture_output=True)
                results[f"{tool} pull"] = samples
        print(f"pull with an empty cache, median of {n}:")
        for k, v in results.items():
            print(f"  {k:28s} {median_ms(v)}")
    finally:
        registry.stop()
        shutil.rmtree(base, ignore_errors=True)


def _mk(base: str, name: str) -> str:
    path = os.path.join(base, name)
    os.makedirs(path, exist_ok=True)
    return path


if __name__ == "__main__":
    main()
