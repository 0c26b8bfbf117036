"""create + start + wait + delete of a busybox `true`, median of many runs.

Side by side on the same bundle: darse-runtime (command and in-process library), runc
and crun (when installed). crun refuses cgroup v1/v2 hybrid hosts, so on such a host it
runs inside a mount namespace where /sys/fs/cgroup/unified is hidden.

    sudo /opt/darse/venv/bin/python bench/runtime_lifecycle.py [-n 50]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time

from darse import syscalls
from darse.image import busybox
from darse.runtime import spec
from darse.runtime.create import create
from darse.runtime.delete import delete
from darse.runtime.start import start


def make_bundle(base: str) -> str:
    bundle = os.path.join(base, "bundle")
    os.makedirs(bundle)
    busybox.make_rootfs(os.path.join(bundle, "rootfs"))
    config = spec.default()
    config["process"]["args"] = ["true"]
    config["process"]["terminal"] = False
    with open(os.path.join(bundle, "config.json"), "w") as f:
        json.dump(config, f)
    return bundle


def time_command(argv_for: callable, n: int) -> list[float]:
    samples = []
    for i in range(n):
        argv = argv_for(i)
        t0 = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
        samples.append(time.perf_counter() - t0)
    return samples


def time_library(root: str, bundle: str, n: int) -> list[float]:
    syscalls.set_child_subreaper()
    samples = []
    for i in range(n):
        t0 = time.perf_counter()
        st = create(root, f"lib{i}", bundle)
        start(root, f"lib{i}")
        os.waitpid(st.pid, 0)
        delete(root, f"lib{i}")
        samples.append(time.perf_counter() - t0)
    return samples


def hybrid_cgroups() -> bool:
    return os.path.ismount("/sys/fs/cgroup/unified")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("-n", type=int, default=50)
    n = p.parse_args().n
    base = tempfile.mkdtemp(prefix="darse-bench-")
    try:
        bundle = make_bundle(base)
        root = os.path.join(base, "state")
        darse_cmd = shutil.which("darse-runtime") or os.path.join(
            os.path.dirname(os.sys.executable), "darse-runtime")
        results = {
            "darse-runtime run (command)": time_command(
                lambda i: [darse_cmd, "--root", root, "run", "-b", bundle, f"cmd{i}"], n),
            "darse library (in-process)": time_library(root, bundle, n),
        }
        if shutil.which("runc"):
            results["runc run"] = time_command(
                lambda i: ["runc", "--root", f"{base}/runc", "run", "-b", bundle, f"r{i}"], n)
        if shutil.which("crun"):
            crun = ["crun", "--root", f"{base}/crun", "run", "-b", bundle]
            if hybrid_cgroups():
                # One shell per run would be timed too; instead time inside one namespace.
                script = ("mount -t tmpfs none /sys/fs/cgroup/unified; "
                          f"for i in $(seq {n}); do s=$(date +%s%N); "
                          f"{' '.join(crun)} c$i >/dev/null; e=$(date +%s%N); "
                          "echo $((e-s)); done")
                out = subprocess.run(["unshare", "-m", "sh", "-c", script], check=True,
                                     capture_output=True, text=True).stdout
                results["crun run"] = [int(x) / 1e9 for x in out.split()]
            else:
                results["crun run"] = time_command(lambda i: [*crun, f"c{i}"], n)
        print(f"create+start+wait+delete of busybox true, {n} runs, median (p90):")
        for name, samples in results.items():
            q = statistics.quantiles(samples, n=10)
            print(f"  {name:32s} {statistics.median(samples) * 1000:7.1f} ms "
                  f"({q[-1] * 1000:.1f} ms)")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
