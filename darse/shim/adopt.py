"""A new darse-shim taking back the containers of one that died (kill -9, a crash).

The containers outlive their supervisor: their inits were reparented to init when it
died, so the new one cannot wait for them as its children. It finds them by the
runtime's state (pid and its start time, so that a reused pid is not taken for them),
watches each through a pidfd, which becomes readable when the process ends, and reads
the exit status from the zombie's /proc/PID/stat (its exit_code field) while it is
still there. Its new parent may reap it first; the status is then not knowable, and
the container ends with 128+signal if its end followed a signal the shim sent (stop,
kill), else 255, as dockerd says of a container it lost.

What cannot come back: the stdio pipes the dead shim held (a container writing to them
gets EPIPE, and its later output is not logged); FIFOs kept open across supervisors
would be the way to keep them (docs/design.md, the supervisor).
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING

from darse.errors import DarseError
from darse.runtime import state

if TYPE_CHECKING:
    from darse.shim.server import Proc, Shim

LOST = 255


def adopt_all(shim: Shim) -> None:
    from darse.shim.server import Proc

    for cid in state.list_ids(shim.runtime_root):
        try:
            st = state.load(shim.runtime_root, cid)
        except (DarseError, OSError, ValueError):
            continue
        proc = Proc(cid, False)
        proc.state, proc.pid = st, st.pid
        proc.started_at = st.created
        shim.procs[cid] = proc
        fd = _pidfd(st)
        if fd is not None:
            shim.loop.add_reader(fd, _ended, shim, proc, fd)
            continue
        code, finished = _zombie_of(st), state.now()
        try:  # the dead shim recorded its end before dying
            with open(os.path.join(shim.exits_dir, cid)) as f:
                rec = json.load(f)
            code, finished = int(rec["exit_code"]), rec["finished_at"] or finished
        except (OSError, ValueError, KeyError, TypeError):
            pass
        proc.exit_code, proc.finished_at = code, finished
        shim._finish(proc)


def _zombie_of(st: state.ContainerState) -> int:
    """The code of a container that ended while no shim was there, if its zombie (the
    same process: same start time) is still unreaped; else LOST."""
    stat = state.proc_stat(st.pid) if st.pid > 0 else None
    if stat is None or stat[1] != st.pid_start:
        return LOST
    code = _zombie_status(st.pid)
    return LOST if code is None else code


def _pidfd(st: state.ContainerState) -> int | None:
    if not state.is_alive(st):
        return None
    try:
        fd = os.pidfd_open(st.pid)
    except OSError:
        return None
    if not state.is_alive(st):  # the pid ended (and was reused) before the pidfd
        os.close(fd)
        return None
    return fd


def _ended(shim: Shim, proc: Proc, fd: int) -> None:
    shim.loop.remove_reader(fd)
    code = _zombie_status(proc.pid)
    os.close(fd)
    if code is None:
        code = 128 + proc.signalled if proc.signalled else LOST
    shim._exited(proc, code)


def _zombie_status(pid: int) -> int | None:
    """The wait status a zombie keeps in /proc/PID/stat (field 52), as an exit code."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except OSError:
        return None
    fields = raw[raw.rindex(b")") + 2:].split()
    if fields[0] != b"Z" or len(fields) < 50:
        return None
    status = int(fields[-1])
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)
