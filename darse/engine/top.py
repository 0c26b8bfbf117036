"""docker top: the host's ps, its lines kept for the container's processes."""

from __future__ import annotations

import os
import subprocess
from typing import TYPE_CHECKING, Any

from darse.errors import Conflict, SystemFailure

if TYPE_CHECKING:
    from darse.engine.engine import Engine


def top(engine: Engine, ref: str, ps_args: str = "-ef") -> dict[str, Any]:
    from darse.runtime import cgroups
    from darse.runtime.state import load as load_state

    doc = engine.containers.find(ref)
    if not doc["State"]["Running"]:
        raise Conflict(f"Container {doc['Id']} is not running")
    st = load_state(os.path.join(engine.config.exec_root, "runtime"), doc["Id"])
    pids = set(cgroups.pids(st.cgroup_paths))
    done = subprocess.run(["ps", *ps_args.split()], capture_output=True, text=True)
    if done.returncode != 0:  # dockerd's: ps's first line of complaint
        first = (done.stderr.splitlines() or [f"exit status {done.returncode}"])[0]
        raise SystemFailure(f"ps: {first}")
    lines = done.stdout.splitlines()
    titles = lines[0].split() if lines else []
    if "PID" not in titles:
        raise SystemFailure("Couldn't find PID field in ps output")
    col = titles.index("PID")
    procs = []
    for line in lines[1:]:
        fields = line.split(None, len(titles) - 1)
        if len(fields) > col and fields[col].isdigit() and int(fields[col]) in pids:
            procs.append(fields)
    return {"Titles": titles, "Processes": procs}
