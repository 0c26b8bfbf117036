"""darse-shim: one supervisor for every container of a darsed, outliving it.

Why one process and not one per container (containerd-shim, conmon): an idle Python
interpreter costs 12-18 MB, so one per container could never meet the aim of under
1 MB per idle container; a single supervisor costs its interpreter once, and a
container only its pipes and a few objects. It is also the fork server for containers:
single-threaded (asyncio, no executor), so forking it is safe, and darse.runtime is
already imported, so a container starts without a new interpreter.

It is the subreaper of every container init and exec'd process, owns their stdio
(pipes, or the pty master), writes the json-file logs, fans output out to attached
clients, and records exit statuses so that a restarted darsed finds them. Its parent,
darse-keeper (darse/shim/keeper.py), holds a copy of each process's stdio and reaps the
processes it leaves when it dies, so that a new shim takes both back (darse/shim/adopt.py).

Protocol: JSON lines over EXEC_ROOT/shim.sock; `attach` and non-detached `exec` turn the
connection into a framed stream (1 byte stream id, 4 bytes big-endian length, data):
1 stdout, 2 stderr, 3 exit (JSON), and from the client 0 stdin (length 0 closes it).
"""

from __future__ import annotations

import asyncio
import errno
import gc
import json
import os
import signal
import socket
import struct
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

from darse import syscalls
from darse.errors import DarseError
from darse.runtime import console, kill, state
from darse.runtime.create import create as runtime_create
from darse.runtime.delete import delete as runtime_delete
from darse.runtime.exec import exec_in
from darse.runtime.start import start as runtime_start
from darse.shim.keeper import start_time, write_pid
from darse.shim.keeperlink import STDIN as HELD_STDIN
from darse.shim.keeperlink import KeeperLink
from darse.shim.logger import CriLogger, JsonFileLogger

STDIN, STDOUT, STDERR, EXIT = 0, 1, 2, 3
_HEADER = struct.Struct(">BI")
EXIT_GRACE = 0.2  # seconds to drain output after the process is gone


def frame(stream: int, data: bytes) -> bytes:
    return _HEADER.pack(stream, len(data)) + data


class Proc:
    """A container's init or an exec'd process, with its stdio."""

    def __init__(self, key: str, tty: bool) -> None:
        self.key, self.tty = key, tty
        self.pid = 0
        self.stdin_fd: int | None = None
        self.master: int | None = None
        self.out_fds: dict[int, int] = {}  # fd -> stream id
        self.subscribers: set[asyncio.StreamWriter] = set()
        self.logger: JsonFileLogger | CriLogger | None = None
        self.log_conf: dict[str, Any] | None = None  # what the logger was made from
        self.pid_start = 0  # the process's start time: a reused pid is not it
        self.exit_code: int | None = None
        self.finished_at = ""
        self.started_at = ""
        self.done = asyncio.Event()
        # The runtime's state from create: list reads its status from it, not from a
        # state.json (the whole OCI spec) read and parsed for each container each time.
        self.state: state.ContainerState | None = None
        self.signalled = 0  # the last signal the shim sent it


class Shim:
    def __init__(self, runtime_root: str, exits_dir: str,
                 keeper: KeeperLink | None = None) -> None:
        self.runtime_root = runtime_root
        self.exits_dir = exits_dir
        self.reaped_dir = os.path.join(os.path.dirname(exits_dir), "reaped")  # the keeper's
        os.makedirs(exits_dir, exist_ok=True)
        self.keeper = keeper
        self.procs: dict[str, Proc] = {}  # container id, or container id/exec id
        self.by_pid: dict[int, Proc] = {}  # our children
        self.adopted: dict[int, Proc] = {}  # the keeper's children: it says when they end
        self.event_listeners: set[asyncio.StreamWriter] = set()
        # Exec ends no darsed heard (none listened: a new shim takes back execs that ended
        # while none ran), told to the next that asks; a container's end is in its list.
        self.unheard: dict[str, int | None] = {}
        self.waiting: dict[str, list[asyncio.Future]] = {}  # attached before create
        self.loop = asyncio.get_event_loop()

    # --- process output ------------------------------------------------------

    def _watch(self, proc: Proc, fd: int, stream: int) -> None:
        os.set_blocking(fd, False)
        proc.out_fds[fd] = stream
        self.loop.add_reader(fd, self._on_output, proc, fd)

    def _on_output(self, proc: Proc, fd: int) -> None:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError:  # EIO: the pty's last holder is gone
            data = b""
        stream = proc.out_fds.get(fd, STDOUT)
        if not data:
            self.loop.remove_reader(fd)
            proc.out_fds.pop(fd, None)
            if fd != proc.master:
                os.close(fd)
            if not proc.out_fds and proc.exit_code is not None:
                self._finish(proc)
            return
        self._deliver(proc, stream, data)

    def _deliver(self, proc: Proc, stream: int, data: bytes) -> None:
        """Output to the log and to every attached client."""
        if proc.logger:
            proc.logger.write("stdout" if stream == STDOUT else "stderr", data)
        packet = frame(stream, data)
        for w in list(proc.subscribers):
            try:
                w.write(packet)
            except (ConnectionError, RuntimeError):
                proc.subscribers.discard(w)

    # --- exits ---------------------------------------------------------------

    def reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            proc = self.by_pid.pop(pid, None)
            if proc is not None:
                self._exited(proc, os.waitstatus_to_exitcode(status))

    def _exited(self, proc: Proc, code: int, finished_at: str = "") -> None:
        proc.exit_code = 128 - code if code < 0 else code
        proc.finished_at = finished_at or state.now()
        if not proc.out_fds:
            self._finish(proc)
        else:
            self.loop.call_later(EXIT_GRACE, self._finish, proc)

    def _finish(self, proc: Proc) -> None:
        if proc.done.is_set():
            return
        for fd in list(proc.out_fds):
            # Whatever is still in the pipe goes out first: a busy loop may not have read it.
            while fd in proc.out_fds:
                try:
                    data = os.read(fd, 65536)
                except (BlockingIOError, OSError):
                    break
                if not data:
                    break
                self._deliver(proc, proc.out_fds[fd], data)
            self.loop.remove_reader(fd)
            if fd != proc.master:
                os.close(fd)
        proc.out_fds.clear()
        if self.keeper is not None:
            self.keeper.drop(proc.key)
            self.keeper.drop(proc.key + HELD_STDIN)
        if proc.logger:
            proc.logger.close()
            proc.logger = None
        if proc.stdin_fd is not None:
            os.close(proc.stdin_fd)
            proc.stdin_fd = None
        if proc.master is not None:
            os.close(proc.master)
            proc.master = None
        # The pid tells darsed which run ended: a run deleted before its start (a crash
        # of darsed between create and start) must not end the next one.
        record = {"id": proc.key, "exit_code": proc.exit_code, "finished_at": proc.finished_at,
                  "pid": proc.pid}
        if "/" not in proc.key:
            with open(os.path.join(self.exits_dir, proc.key), "w") as f:
                json.dump(record, f)
        proc.done.set()
        packet = frame(EXIT, json.dumps(record).encode())
        for w in list(proc.subscribers):
            try:
                w.write(packet)
                w.close()
            except (ConnectionError, RuntimeError):
                pass
        proc.subscribers.clear()
        if "/" in proc.key and self.procs.get(proc.key) is proc:
            del self.procs[proc.key]  # an exec's exit is darsed's to keep, not ours
            if not self.event_listeners:
                self.unheard[proc.key] = proc.exit_code
        event = (json.dumps({"event": "exit", **record}) + "\n").encode()
        for w in list(self.event_listeners):
            try:
                w.write(event)
            except (ConnectionError, RuntimeError):
                self.event_listeners.discard(w)

    # --- operations ----------------------------------------------------------

    def _stdio(self, proc: Proc, tty: bool, with_stdin: bool
               ) -> tuple[tuple[int, int, int] | None, socket.socket | None, list[int]]:
        """Pipes (or a console socketpair) for a new process; fds to close after fork."""
        if tty:
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            proc._console = ours  # type: ignore[attr-defined]
            null = os.open("/dev/null", os.O_RDWR | os.O_CLOEXEC)
            return (null, null, null), theirs, [null]
        r_in = os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC)
        if with_stdin:
            os.close(r_in)
            r_in, w_in = os.pipe2(os.O_CLOEXEC)
            proc.stdin_fd = w_in
        r_out, w_out = os.pipe2(os.O_CLOEXEC)
        r_err, w_err = os.pipe2(os.O_CLOEXEC)
        self._watch(proc, r_out, STDOUT)
        self._watch(proc, r_err, STDERR)
        return (r_in, w_out, w_err), None, [r_in, w_out, w_err]

    def _spawn(self, proc: Proc, with_stdin: bool,
               start: Callable[[tuple[int, int, int] | None, socket.socket | None], int]
               ) -> int:
        """Give a new process its stdio (pipes, or a pty through a console socketpair),
        start it, and watch its output; nothing is left open if it fails."""
        stdio, console_sock, to_close = self._stdio(proc, proc.tty, with_stdin)
        try:
            pid = start(stdio, console_sock)
        except BaseException:
            for fd in list(proc.out_fds):
                self.loop.remove_reader(fd)
                os.close(fd)
            if proc.stdin_fd is not None:
                os.close(proc.stdin_fd)
            if proc.logger:
                proc.logger.close()
            raise
        finally:
            for fd in to_close:
                os.close(fd)
            if console_sock is not None:
                console_sock.close()
        if proc.tty:
            self._take_console(proc)
        proc.pid = pid
        proc.pid_start = start_time(pid)
        self.by_pid[pid] = proc
        self._hold(proc)
        return pid

    def _hold(self, proc: Proc) -> None:
        """Copies of the process's stdio to the keeper: if this shim dies, the process's
        output waits in its pipe (or pty) for the next one instead of failing."""
        if self.keeper is None:
            return
        streams = sorted(proc.out_fds.items(), key=lambda item: item[1])
        self.keeper.hold(proc.key, {"pid": proc.pid, "start": proc.pid_start,
                                    "tty": proc.tty, "log": proc.log_conf,
                                    "streams": [stream for _, stream in streams]},
                         [fd for fd, _ in streams])
        if proc.stdin_fd is not None:
            self.keeper.hold(proc.key + HELD_STDIN, {}, [proc.stdin_fd])

    @staticmethod
    def new_logger(conf: dict[str, Any] | None) -> JsonFileLogger | CriLogger | None:
        if not conf or not conf.get("log_path"):
            return None
        if conf.get("log_format") == "cri":
            return CriLogger(conf["log_path"])
        return JsonFileLogger(conf["log_path"], conf.get("log_max_size", 10_000_000),
                              conf.get("log_max_file", 3), conf.get("log_attrs"))

    def reaped(self, record: dict[str, Any]) -> None:
        """The keeper reaped a process this shim did not start (its parent died)."""
        try:
            pid = int(record["pid"])
            proc = self.adopted.get(pid)
            if proc is not None and record.get("start") in (proc.pid_start, 0):
                del self.adopted[pid]
                if proc.exit_code is None:
                    self._exited(proc, int(record["exit_code"]), str(record["finished_at"]))
            os.unlink(os.path.join(self.reaped_dir, str(pid)))
        except (KeyError, TypeError, ValueError, OSError):
            pass

    def _on_keeper(self) -> None:
        assert self.keeper is not None
        op, _, body, fds = self.keeper.receive()
        for fd in fds:
            os.close(fd)
        if op is None:
            self.loop.remove_reader(self.keeper.sock.fileno())
        elif op == "reaped" and isinstance(body, dict):
            self.reaped(body)

    def _take_console(self, proc: Proc) -> None:
        sock: socket.socket = proc._console  # type: ignore[attr-defined]
        _, master = console.recv_fd(sock)
        sock.close()
        proc.master = master
        self._watch(proc, master, STDOUT)

    def op_create(self, req: dict[str, Any]) -> dict[str, Any]:
        cid = req["id"]
        if cid in self.procs and self.procs[cid].exit_code is None:
            raise DarseError(f"container {cid} is already running")
        proc = Proc(cid, req.get("tty", False))
        # Kept with the held stdio: a new shim logs on in the same way.
        proc.log_conf = {k: req[k] for k in ("log_path", "log_format", "log_max_size",
                                             "log_max_file", "log_attrs")
                         if req.get(k) is not None}
        proc.logger = self.new_logger(proc.log_conf)
        def create(stdio: tuple[int, int, int] | None, console: socket.socket | None) -> int:
            proc.state = runtime_create(self.runtime_root, cid, req["bundle"], stdio=stdio,
                                        console_sock=console)
            return proc.state.pid

        pid = self._spawn(proc, req.get("stdin", False), create)
        self.procs[cid] = proc
        for fut in self.waiting.pop(cid, []):
            if not fut.done():
                fut.set_result(proc)
        try:
            os.unlink(os.path.join(self.exits_dir, cid))
        except FileNotFoundError:
            pass
        return {"pid": pid}

    def op_reopen_log(self, req: dict[str, Any]) -> dict[str, Any]:
        """After the kubelet rotated a CRI log: write to a new file at the same path."""
        proc = self.procs[req["id"]]
        if isinstance(proc.logger, CriLogger):
            proc.logger.reopen()
        return {}

    def op_pod_init(self, req: dict[str, Any]) -> dict[str, Any]:
        """A process whose only job is to be pid 1 of a pod's PID namespace (the pod's
        containers join it, shareProcessNamespace): forked from this supervisor, so it
        costs only the pages it dirties; it reaps the orphans there until killed."""
        r, w = os.pipe2(os.O_CLOEXEC)
        # No collection in the children: walking every object would copy the pages they
        # share with this process, megabytes per pod.
        gc.disable()
        try:
            middle = os.fork()
        finally:
            if middle != 0:
                gc.enable()
        if middle == 0:
            try:
                os.close(r)
                syscalls.unshare(syscalls.CLONE_NEWPID)
                child = os.fork()  # pid 1 of the new namespace
                if child == 0:
                    _pod_init()
                os.write(w, str(child).encode())
            finally:
                os._exit(0)
        os.close(w)
        try:
            data = os.read(r, 32)
        finally:
            os.close(r)
        try:
            os.waitpid(middle, 0)
        except ChildProcessError:
            pass  # reaped by the SIGCHLD handler already
        if not data:
            raise DarseError("the pod's PID namespace could not be made")
        return {"pid": int(data)}

    def op_unheard(self, req: dict[str, Any]) -> dict[str, Any]:
        """The exec ends no darsed heard of; each told once."""
        execs, self.unheard = self.unheard, {}
        return {"execs": execs}

    def op_ping(self, req: dict[str, Any]) -> dict[str, Any]:
        return {"pid": os.getpid()}

    def op_start(self, req: dict[str, Any]) -> dict[str, Any]:
        kept = self.procs.get(req["id"])
        runtime_start(self.runtime_root, req["id"], kept.state if kept else None)
        proc = self.procs[req["id"]]
        proc.started_at = state.now()
        return {"pid": proc.pid}

    def op_kill(self, req: dict[str, Any]) -> dict[str, Any]:
        kill.kill(self.runtime_root, req["id"], req.get("signal", "SIGKILL"),
                  all_processes=req.get("all", False))
        proc = self.procs.get(req["id"])
        if proc is not None:  # what an adopted container's end is put down to
            proc.signalled = kill.parse_signal(req.get("signal", "SIGKILL"))
        return {}

    def op_delete(self, req: dict[str, Any]) -> dict[str, Any]:
        cid = req["id"]
        try:
            runtime_delete(self.runtime_root, cid, force=True)
        except DarseError:
            pass
        self.reap()
        proc = self.procs.pop(cid, None)
        if proc is not None:
            if proc.exit_code is None:
                self.by_pid.pop(proc.pid, None)
                proc.exit_code, proc.finished_at = 137, state.now()
            self._finish(proc)
        for key in [k for k in self.procs if k.startswith(cid + "/")]:
            self.procs.pop(key)
        try:
            os.unlink(os.path.join(self.exits_dir, cid))
        except FileNotFoundError:
            pass
        return {}

    def op_kill_exec(self, req: dict[str, Any]) -> dict[str, Any]:
        """darsed's client of an exec went: its process goes (its stdio then closes)."""
        proc = self.procs.get(f"{req['id']}/{req['exec_id']}")
        if proc is not None and proc.exit_code is None and proc.pid:
            try:
                os.kill(proc.pid, req.get("signal", signal.SIGKILL))
            except ProcessLookupError:
                pass
        return {}

    def op_list(self, req: dict[str, Any]) -> dict[str, Any]:
        out = []
        for key, p in self.procs.items():
            if "/" in key:
                continue
            out.append({"id": key, "pid": p.pid, "running": p.exit_code is None,
                        "exit_code": p.exit_code, "finished_at": p.finished_at,
                        "started_at": p.started_at,
                        "status": state.status(self.runtime_root,
                                               p.state or state.load(self.runtime_root, key))
                        if p.exit_code is None else "stopped"})
        return {"containers": out}

    def op_resize(self, req: dict[str, Any]) -> dict[str, Any]:
        key = req["id"] + (f"/{req['exec_id']}" if req.get("exec_id") else "")
        proc = self.procs.get(key)
        if proc is not None and proc.master is not None:
            console.set_size(proc.master, req["height"], req["width"])
        return {}

    def op_pause(self, req: dict[str, Any]) -> dict[str, Any]:
        from darse.runtime.pause import pause, resume

        (pause if req.get("pause", True) else resume)(self.runtime_root, req["id"])
        return {}

    def op_exec(self, req: dict[str, Any]) -> Proc:
        key = f"{req['id']}/{req['exec_id']}"
        process = req["process"]
        proc = Proc(key, bool(process.get("terminal")))
        self._spawn(proc, req.get("stdin", False), lambda stdio, console: exec_in(
            self.runtime_root, req["id"], process, console_sock=console, stdio=stdio))
        proc.started_at = state.now()
        self.procs[key] = proc
        return proc

    # --- connections ---------------------------------------------------------

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                req = json.loads(line)
                op = req.get("op")
                try:
                    if op == "attach":
                        proc = self.procs.get(req["id"])
                        if proc is None and req.get("known"):  # no waiting for its create
                            raise KeyError(req["id"])
                        if proc is None or (proc.done.is_set() and req.get("wait_start")):
                            # `docker run` attaches before it starts the container.
                            fut = self.loop.create_future()
                            self.waiting.setdefault(req["id"], []).append(fut)
                            self._reply(writer, {"ok": True})
                            await writer.drain()
                            proc = await fut
                            await self._attach(proc, req, reader, writer, replied=True)
                        else:
                            await self._attach(proc, req, reader, writer)
                        return
                    if op == "exec":
                        proc = self.op_exec(req)
                        if req.get("detach"):
                            self._reply(writer, {"ok": True, "pid": proc.pid})
                            continue
                        self._reply(writer, {"ok": True, "pid": proc.pid})
                        await self._attach(proc, req, reader, writer, replied=True)
                        return
                    if op == "events":
                        self.event_listeners.add(writer)
                        self._reply(writer, {"ok": True})
                        await reader.read()  # until the listener goes
                        self.event_listeners.discard(writer)
                        return
                    if op == "shutdown":
                        self._reply(writer, {"ok": True})
                        await writer.drain()
                        self.loop.stop()
                        return
                    handler = getattr(self, f"op_{op}", None)
                    if handler is None:
                        raise DarseError(f"unknown operation {op!r}")
                    self._reply(writer, {"ok": True, **handler(req)})
                except (DarseError, OSError, KeyError) as exc:
                    kind = type(exc).__name__
                    message = str(exc) if not isinstance(exc, KeyError) else \
                        f"no such container or exec: {exc.args[0]}"
                    if isinstance(exc, OSError) and exc.strerror:
                        message = f"{exc.strerror}: {exc.filename}" if exc.filename \
                            else exc.strerror
                    self._reply(writer, {"ok": False, "kind": kind, "error": message})
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except Exception:  # noqa: BLE001 - one bad client must not end the supervisor
            traceback.print_exc()
        finally:
            writer.close()

    @staticmethod
    def _reply(writer: asyncio.StreamWriter, data: dict[str, Any]) -> None:
        writer.write((json.dumps(data) + "\n").encode())

    async def _attach(self, proc: Proc, req: dict[str, Any], reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter, replied: bool = False) -> None:
        if not replied:
            self._reply(writer, {"ok": True})
        if proc.done.is_set():
            writer.write(frame(EXIT, json.dumps({"exit_code": proc.exit_code}).encode()))
            await writer.drain()
            return
        proc.subscribers.add(writer)
        pump = asyncio.ensure_future(self._stdin_pump(proc, reader)) \
            if req.get("stdin") else None
        try:
            await proc.done.wait()
            await writer.drain()
        finally:
            proc.subscribers.discard(writer)
            if pump is not None:
                pump.cancel()

    async def _stdin_pump(self, proc: Proc, reader: asyncio.StreamReader) -> None:
        """Client frames of stream 0 go to the process's stdin (or its pty)."""
        try:
            while True:
                header = await reader.readexactly(_HEADER.size)
                _, length = _HEADER.unpack(header)
                data = await reader.readexactly(length) if length else b""
                target = proc.master if proc.tty else proc.stdin_fd
                if target is None:
                    continue
                if not data:
                    if not proc.tty and proc.stdin_fd is not None:
                        os.close(proc.stdin_fd)
                        proc.stdin_fd = None
                        if self.keeper is not None:  # its copy too, or no end of input
                            self.keeper.drop(proc.key + HELD_STDIN)
                    elif proc.tty and proc.master is not None:
                        os.write(proc.master, b"\x04")  # ^D: end of input on a tty
                    continue
                await self._write_all(target, data)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass

    async def _write_all(self, fd: int, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                n = os.write(fd, view)
                view = view[n:]
            except BlockingIOError:
                await asyncio.sleep(0.005)
            except OSError as exc:
                if exc.errno in (errno.EPIPE, errno.EIO, errno.EBADF):
                    return
                raise


POD_INIT = "/usr/bin/catatonit"  # Debian's catatonit, a static pause process (-P)


def _pod_init() -> None:
    """pid 1 of a pod's PID namespace: nothing of the supervisor's open, orphans reaped.
    catatonit when the host has it: a copy of this process would cost megabytes, as each
    page the supervisor writes later is copied."""
    try:
        signal.set_wakeup_fd(-1)
        null = os.open("/dev/null", os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.closerange(3, 65536)
        os.setsid()
        for sig in range(1, signal.NSIG):
            try:
                signal.signal(sig, signal.SIG_DFL)
            except (OSError, ValueError):
                pass
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        if os.access(POD_INIT, os.X_OK):
            os.execv(POD_INIT, ["darse-pod-init", "-P"])
        with open("/proc/self/comm", "w") as f:
            f.write("darse-pod-init")  # what ps shows

        def reap(*_: object) -> None:
            while True:
                try:
                    if os.waitpid(-1, os.WNOHANG)[0] == 0:
                        return
                except ChildProcessError:
                    return

        signal.signal(signal.SIGCHLD, reap)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        while True:
            signal.pause()
    finally:
        os._exit(0)


def main() -> None:
    import argparse

    p = argparse.ArgumentParser(prog="darse-shim")
    p.add_argument("--exec-root", required=True)
    p.add_argument("--daemon", action="store_true",
                   help="detach: the caller's child exits at once, the shim lives on")
    a = p.parse_args()
    if a.daemon and os.fork():
        os._exit(0)  # so the shim is nobody's child but init's, never a zombie of darsed
    serve(a.exec_root, None)


def serve(exec_root: str, keeper: socket.socket | None) -> None:
    """Run the supervisor of exec_root; keeper: the link to its darse-keeper parent (None
    when started alone: its death then loses the streams and exact exit codes)."""
    os.makedirs(exec_root, exist_ok=True)
    # One shim per exec root, whoever races to start it: the loser leaves quietly.
    import fcntl

    lock = os.open(os.path.join(exec_root, "shim.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os._exit(0)
    syscalls.set_child_subreaper()
    try:
        with open("/proc/self/comm", "w") as f:
            f.write("darse-shim")  # what ps and top show
    except OSError:
        pass
    sock_path = os.path.join(exec_root, "shim.sock")
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    shim = Shim(os.path.join(exec_root, "runtime"), os.path.join(exec_root, "exits"),
                KeeperLink(keeper) if keeper is not None else None)
    loop.add_signal_handler(signal.SIGCHLD, shim.reap)
    from darse.shim import adopt

    adopt.adopt_all(shim)  # a shim before this one died: its containers, back
    if shim.keeper is not None and not shim.keeper.broken:
        loop.add_reader(shim.keeper.sock.fileno(), shim._on_keeper)
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, loop.stop)
    try:
        os.unlink(sock_path)
    except FileNotFoundError:
        pass
    server = loop.run_until_complete(asyncio.start_unix_server(shim.handle, sock_path))
    os.chmod(sock_path, 0o600)
    write_pid(os.path.join(exec_root, "shim.pid"))
    print(f"darse-shim {os.getpid()} ready at {time.strftime('%H:%M:%S')}", file=sys.stderr)
    try:
        loop.run_forever()
    finally:
        server.close()
        try:
            os.unlink(sock_path)
        except FileNotFoundError:
            pass
        for proc in shim.procs.values():
            if proc.logger:
                proc.logger.close()
        # Nothing else to flush: skip the interpreter's slow teardown of the loop.
        os._exit(0)


if __name__ == "__main__":
    main()
