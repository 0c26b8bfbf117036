"""A new darse-shim taking back the processes of one that died (kill -9, a crash).

The containers outlive their supervisor. Its parent, darse-keeper (darse/shim/keeper.py),
kept a copy of each process's stdio and became the parent of the processes it left:
- the streams come back from the keeper with what they were (a tty or pipes, the log
  they went to): the new shim reads on where the old one stopped, nothing written in
  between is lost, and attach and the log go on;
- a process still there (running, or a zombie the keeper has not reaped yet) is the
  keeper's to reap: it tells the shim, with the exact exit status;
- one that ended and was reaped while no shim ran left the keeper's record,
  EXEC_ROOT/reaped/PID, with its start time so that a reused pid is not taken for it;
- one that ended before the old shim died has the exit file the old shim wrote.
Execs are taken back the same way (the keeper holds their stdio under CID/EXEC-ID).

A container that is not the keeper's (started by a shim that ran without one) is found
by the runtime's state (pid and start time) and watched through a pidfd; its exit status
is read from the zombie's /proc/PID/stat while it is there, else it is 128+the signal
the shim sent it, else 255, as dockerd says of a container it lost.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

from darse.errors import DarseError
from darse.runtime import state
from darse.shim.keeper import close_all
from darse.shim.keeperlink import STDIN

if TYPE_CHECKING:
    from darse.shim.server import Proc, Shim

LOST = 255
Held = dict[str, tuple[dict[str, Any], list[int]]]


def adopt_all(shim: Shim) -> None:
    from darse.shim.server import Proc

    held: Held = shim.keeper.fetch() if shim.keeper is not None else {}
    reaped = _records(shim.reaped_dir)
    keeper = os.getppid() if shim.keeper is not None else 0
    for cid in state.list_ids(shim.runtime_root):
        try:
            st = state.load(shim.runtime_root, cid)
        except (DarseError, OSError, ValueError):
            continue
        proc = Proc(cid, False)
        proc.state, proc.pid, proc.pid_start = st, st.pid, st.pid_start
        proc.started_at = st.created
        shim.procs[cid] = proc
        _restore(shim, proc, held.pop(cid, None), held.pop(cid + STDIN, None))
        _follow(shim, proc, reaped, keeper, os.path.join(shim.exits_dir, cid))
    for key in [k for k in held if "/" in k and not k.endswith(STDIN)]:
        meta, fds = held.pop(key)
        owner = shim.procs.get(key.split("/", 1)[0])
        stdin = held.pop(key + STDIN, None)
        if owner is None or not isinstance(meta.get("pid"), int):
            close_all(fds + (stdin[1] if stdin else []))
            continue
        proc = Proc(key, False)
        proc.pid, proc.pid_start = meta["pid"], int(meta.get("start") or 0)
        shim.procs[key] = proc
        _restore(shim, proc, (meta, fds), stdin)
        _follow(shim, proc, reaped, keeper, None)
    for key, (_, fds) in held.items():  # of processes gone with their container
        close_all(fds)
        if shim.keeper is not None:
            shim.keeper.drop(key)
    for pid in reaped:  # each one taken up, or of a process no container had
        try:
            os.unlink(os.path.join(shim.reaped_dir, str(pid)))
        except OSError:
            pass
    if shim.keeper is not None:
        for record in shim.keeper.pending:
            shim.reaped(record)
        shim.keeper.pending.clear()


def _records(folder: str) -> dict[int, dict[str, Any]]:
    """The keeper's records of the processes it reaped, by pid."""
    out: dict[int, dict[str, Any]] = {}
    try:
        names = os.listdir(folder)
    except OSError:
        return out
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(os.path.join(folder, name)) as f:
                out[int(name)] = json.load(f)
        except (OSError, ValueError):
            continue
    return out


def _restore(shim: Shim, proc: Proc, item: tuple[dict[str, Any], list[int]] | None,
             stdin: tuple[dict[str, Any], list[int]] | None) -> None:
    """The process's stdio as the keeper held it: read on, logged as before."""
    if stdin is not None and stdin[1]:
        proc.stdin_fd = stdin[1][0]
        close_all(stdin[1][1:])
    if item is None:
        return
    meta, fds = item
    proc.tty = bool(meta.get("tty"))
    proc.log_conf = meta.get("log") if isinstance(meta.get("log"), dict) else None
    try:
        proc.logger = shim.new_logger(proc.log_conf)
    except OSError:
        proc.logger = None  # its log's folder went with the container
    streams = meta.get("streams") or []
    if proc.tty and fds:
        proc.master = fds[0]
    for fd, stream in zip(fds, streams, strict=False):
        shim._watch(proc, fd, stream)
    close_all(fds[len(streams):])


def _follow(shim: Shim, proc: Proc, reaped: dict[int, dict[str, Any]], keeper: int,
            exit_file: str | None) -> None:
    """Learn the process's end: from the keeper (later, or its record), from a pidfd,
    from its zombie, from the old shim's exit file, else lost."""
    stat = _stat(proc.pid) if proc.pid > 0 else None
    if stat is not None and stat[1] == proc.pid_start:
        if keeper and stat[2] == keeper:
            shim.adopted[proc.pid] = proc  # the keeper reaps it, and says
            return
        fd = _pidfd(proc) if stat[0] not in ("Z", "X") else None
        if fd is not None:
            shim.loop.add_reader(fd, _ended, shim, proc, fd)
            return
    code, finished = LOST, state.now()
    record = reaped.get(proc.pid)
    zombie = _zombie_status(proc.pid) if stat is not None and stat[1] == proc.pid_start \
        else None
    if zombie is not None:
        code = zombie
    elif record is not None and record.get("start") == proc.pid_start:
        code, finished = int(record["exit_code"]), str(record["finished_at"])
    elif exit_file is not None:
        try:  # the dead shim recorded its end before dying
            with open(exit_file) as f:
                rec = json.load(f)
            code, finished = int(rec["exit_code"]), rec["finished_at"] or finished
        except (OSError, ValueError, KeyError, TypeError):
            pass
    proc.exit_code, proc.finished_at = code, finished
    shim._finish(proc)  # what it wrote before its end still goes to its log


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state letter, start time, parent pid) of a process, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except OSError:
        return None
    rest = raw[raw.rindex(b")") + 2:].split()
    return rest[0].decode(), int(rest[19]), int(rest[1])


def _pidfd(proc: Proc) -> int | None:
    try:
        fd = os.pidfd_open(proc.pid)
    except OSError:
        return None
    stat = _stat(proc.pid)
    if stat is None or stat[1] != proc.pid_start:  # ended (and reused) before the pidfd
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
