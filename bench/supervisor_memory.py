"""What the supervisors cost per idle container: PSS of darse-keeper and darse-shim (of a
darsed of the working tree, on its own roots) with no container, then with N idle ones
(`busybox sleep`, --network none), and what each adds; then the same after a kill -9 of
darse-shim (its successor took the N back from the keeper).

    sudo /opt/darse/venv/bin/python bench/supervisor_memory.py [--n 50]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.engine import pss_kb  # noqa: E402
from darse.image.busybox import make_rootfs  # noqa: E402
from tests.daemon import Darsed, new_daemon  # noqa: E402


def supervisors(d: Darsed) -> dict[str, int]:
    """PSS in kB of each of the keeper and the shim (0 for one that is not there)."""
    out = {}
    for name in ("keeper", "shim"):
        path = os.path.join(d.exec_root, f"{name}.pid")
        out[name] = pss_kb(int(open(path).read())) if os.path.exists(path) else 0
    return out


def run(d: Darsed) -> str:
    status, out = d.api("POST", "/containers/create", {
        "Image": "busybox", "Cmd": ["sleep", "100000"], "HostConfig": {"NetworkMode": "none"}})
    assert status == 201, out
    cid = json.loads(out)["Id"]
    assert d.api("POST", f"/containers/{cid}/start")[0] == 204
    return cid


def line(label: str, before: dict[str, int], after: dict[str, int], n: int) -> str:
    b, a = sum(before.values()), sum(after.values())
    parts = ", ".join(f"{k} {before[k] / 1024:.1f} -> {after[k] / 1024:.1f} MB" for k in after)
    return f"{label}: {(a - b) / n:.1f} kB per container ({parts}; total {b / 1024:.1f} -> " \
           f"{a / 1024:.1f} MB)"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=50)
    n = p.parse_args().n
    d = new_daemon()
    rootfs = tempfile.mkdtemp(prefix="darse-bench-rootfs-")
    try:
        d.start()
        make_rootfs(rootfs)
        d.import_busybox(rootfs)
        for _ in range(3):  # what the first containers load once
            d.api("DELETE", f"/containers/{run(d)}?force=1")
        time.sleep(1)
        before = supervisors(d)
        ids = [run(d) for _ in range(n)]
        time.sleep(2)
        print(line(f"{n} idle containers", before, supervisors(d), n))
        shim = int(open(os.path.join(d.exec_root, "shim.pid")).read())
        os.kill(shim, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while open(os.path.join(d.exec_root, "shim.pid")).read() in ("", str(shim)):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(2)
        print(line("after a kill -9 of darse-shim", before, supervisors(d), n))
        for cid in ids:
            d.api("DELETE", f"/containers/{cid}?force=1")
    finally:
        d.stop()
        shutil.rmtree(d.base, ignore_errors=True)
        shutil.rmtree(rootfs, ignore_errors=True)


if __name__ == "__main__":
    main()
