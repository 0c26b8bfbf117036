"""darse-runtime ps: the processes of a container."""

from __future__ import annotations

import argparse
import json
import subprocess

from darse.runtime import cgroups, state


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ps", help="list the processes of a container")
    p.add_argument("-f", "--format", default="table", choices=("table", "json"))
    p.add_argument("id")
    p.add_argument("ps_args", nargs=argparse.REMAINDER)


def run(args: argparse.Namespace) -> int:
    st = state.load(args.root, args.id)
    pids = sorted(cgroups.pids(st.cgroup_paths))
    if args.format == "json":
        print(json.dumps(pids))
        return 0
    out = subprocess.run(["ps", *(args.ps_args or ["-ef"])], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    header, rows = out[0], out[1:]
    column = header.split().index("PID")
    print(header)
    for row in rows:
        fields = row.split()
        if len(fields) > column and fields[column].isdigit() and int(fields[column]) in pids:
            print(row)
    return 0
