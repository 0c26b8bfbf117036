"""exec: run another process in a running container (its namespaces and cgroups)."""

from __future__ import annotations

import os
import signal
import socket

from darse.errors import Conflict, InvalidArgument, SystemFailure
from darse.runtime import cgroups, console, namespaces, process, seccomp, spec, state
from darse.runtime.init import fork_reporting_pid
from darse.runtime.sync import Channel

TYPE_CHECKING = False  # typing costs milliseconds at every container start
if TYPE_CHECKING:
    from typing import Any, NoReturn


def exec_in(root: str, container_id: str, proc: dict[str, Any], *,
            console_sock: socket.socket | None = None, preserve_fds: int = 0,
            stdio: tuple[int, int, int] | None = None) -> int:
    """Start proc inside the container and return its pid (waiting is the caller's)."""
    spec.validate_process(proc)
    st = state.load(root, container_id)
    current = state.status(root, st)
    if current not in (state.RUNNING, state.CREATED):
        raise Conflict(f"cannot exec in a {current} container")
    if proc.get("terminal") and console_sock is None:
        raise InvalidArgument("cannot allocate tty without a console socket")
    linux = st.config.get("linux") or {}
    kinds = [ns["type"] for ns in linux.get("namespaces") or []]
    ns_paths = namespaces.of_process(st.pid, kinds)
    if linux.get("seccomp"):
        seccomp.preload(linux["seccomp"])
    chan, child_chan = Channel.pair()
    child = os.fork()
    if child == 0:
        chan.close()
        process.reset_signals()
        if stdio is not None:
            process.dup_stdio(stdio)
        _child(child_chan, ns_paths, proc, linux.get("seccomp"), console_sock, preserve_fds)
    child_chan.close()
    pid = 0
    try:
        cgroups.add_process(st.cgroup_paths, child)
        chan.send("go")
        pid = chan.expect("pid")["pid"]
        try:
            os.waitpid(child, 0)
        except ChildProcessError:
            pass
        chan.expect("ready")
        return pid
    except EOFError:
        raise SystemFailure("exec: the process exited before it was ready") from None
    except BaseException:
        for p in {child, pid} - {0}:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        raise
    finally:
        chan.close()


def _child(chan: Channel, ns_paths: dict[str, str], proc: dict[str, Any],
           profile: dict | None, console_sock: socket.socket | None,
           preserve_fds: int) -> NoReturn:
    try:
        chan.expect("go")
        namespaces.join(ns_paths)
        fork_reporting_pid(chan)
        if proc.get("terminal"):
            os.setsid()
            console.setup_in_container(console_sock.fileno(), proc.get("consoleSize"),
                                       bind_console=False)
        process.apply_oom_score(proc)
        process.apply_rlimits(proc)
        os.chdir(proc.get("cwd") or "/")
        path = process.find_executable(proc)
        chan.send("ready")
        chan.close()
    except BaseException as exc:  # noqa: BLE001 - every failure must reach the parent
        try:
            message = f"{exc.strerror}: {exc.filename}" if isinstance(exc, OSError) else str(exc)
            chan.send("error", message=message)
        finally:
            os._exit(1)
    try:
        process.exec_process(proc, path, profile, preserve_fds)
    except BaseException as exc:  # noqa: BLE001 - the parent has gone on: the process's stderr
        # says it, and the code is a shell's (126 found but not runnable, 127 not found).
        if isinstance(exc, OSError):
            message = f'exec: "{path}": {(exc.strerror or str(exc)).lower()}'
        else:
            message = str(exc)
        try:
            os.write(2, f"darse-runtime: {message}\n".encode())
        finally:
            os._exit(127 if isinstance(exc, FileNotFoundError) else 126)
