"""darse-keeper: the parent of darse-shim, so that the supervisor's death loses nothing.

darse-shim (one per daemon, darse/shim/server.py) holds every container's stdio and is
the parent of every container init. Killed (kill -9, a crash), it took both along: the
pipes closed (a container writing got EPIPE, its output was lost, a pty hung up) and
the inits went to the host's init, which reaped them with their exit codes.

The keeper is the smallest process that keeps both across the shim's death:
- It forks the shim and is its parent and a child subreaper, so when the shim dies its
  children (container inits, exec'd processes) come to the keeper, which reaps them as
  they end and records each exact exit status: EXEC_ROOT/reaped/PID (with the process's
  start time, so that a reused pid is not taken for it), and a message to the shim of
  the moment. A new shim takes those records up (darse/shim/adopt.py).
- It is a store of descriptors: the shim hands it a copy of its end of each process's
  stdio (stdout/stderr read ends, stdin's write end, a pty master) with a few words
  describing them (SCM_RIGHTS over a socketpair), and asks for them back when it starts.
  While it holds them a container's output stays in the pipe (it blocks when the pipe
  is full, never EPIPE) and its pty never hangs up; the new shim reads on from there.
- It starts a new shim when the old one dies (at once; after repeated quick deaths,
  with a growing delay), and ends when the shim ends cleanly (exit 0: shutdown, SIGTERM).

Why not FIFOs, as containerd: a FIFO also needs someone to hold it open while no shim
runs (or the writer gets EPIPE), names in the file system to clean up, and a pty master
cannot be one. Why one keeper for every container: it is an interpreter paid once (its
pages shared with the shim it forks, not exec'd), each container costing it only its
descriptors and one short record.

It does nothing else: no threads, no event loop, no parsing beyond one JSON object per
message; every message is checked and a bad one dropped, so it has little to fail on.
"""

from __future__ import annotations

# Only built-in modules, none of signal's, socket's or json's Python layers (enum, re):
# each costs the keeper's fixed memory hundreds of kB (bench: the keeper's PSS).
import _signal as signal
import _socket as socket
import gc
import os
import select
import sys
import time

MAX_FDS = 4  # a process's stdout and stderr, or its pty master; stdin apart
MESSAGE = 65536
RESTART_DELAYS = (0.0, 0.0, 0.5, 1.0, 2.0, 5.0)  # after 0, 1, 2... quick deaths in a row
QUICK = 5.0  # a shim that dies sooner than this after its start died quickly
SEND_TIMEOUT = 5.0
_INT = 4  # bytes of a C int, as SCM_RIGHTS carries descriptors


def now() -> str:
    """The time as darse writes it (runtime.state.now): UTC, microseconds, Z."""
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e6):06d}Z"


def start_time(pid: int) -> int:
    """The process's start time in clock ticks (a zombie keeps it), 0 if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
        return int(raw[raw.rindex(b")") + 2:].split()[19])
    except (OSError, ValueError, IndexError):
        return 0


# A message: a line `OP KEY`, then what the keeper keeps without reading (JSON).
def send(sock: socket.socket, data: bytes, fds: list[int] | tuple[int, ...] = ()) -> None:
    packed = b"".join(fd.to_bytes(_INT, sys.byteorder) for fd in fds)
    sock.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, packed)] if fds else [])


def recv(sock: socket.socket) -> tuple[bytes, list[int]]:
    """One message and the descriptors it carried (b"" when the other side is gone)."""
    data, anc, _, _ = sock.recvmsg(MESSAGE, socket.CMSG_SPACE(MAX_FDS * _INT),
                                   socket.MSG_CMSG_CLOEXEC)
    fds: list[int] = []
    for level, kind, raw in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.extend(int.from_bytes(raw[i:i + _INT], sys.byteorder, signed=True)
                       for i in range(0, len(raw) - _INT + 1, _INT))
    return data, fds


def write_pid(path: str) -> None:
    """The pid file, whole or not there: one read while it is rewritten (a new shim) is
    never empty."""
    with open(path + ".new", "w") as f:
        f.write(str(os.getpid()))
    os.replace(path + ".new", path)


def close_all(fds: list[int]) -> None:
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


class Keeper:
    def __init__(self, exec_root: str) -> None:
        self.exec_root = exec_root
        self.reaped_dir = os.path.join(exec_root, "reaped")
        os.makedirs(self.reaped_dir, exist_ok=True)
        self.held: dict[bytes, tuple[bytes, list[int]]] = {}  # key -> (hold message, fds)
        self.shim_pid = 0
        self.sock: socket.socket | None = None
        self.started = 0.0
        self.quick_deaths = 0
        self.restart_at: float | None = None
        self.stopping = False

    # --- the loop ------------------------------------------------------------

    def run(self) -> None:
        wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.wake = (wake_r, wake_w)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)  # the wakeup fd is what counts
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        gc.freeze()  # what exists now is shared with each shim it forks: no collection copies it
        self._start_shim()
        while True:
            poller = select.poll()
            poller.register(wake_r, select.POLLIN)
            if self.sock is not None:
                poller.register(self.sock.fileno(), select.POLLIN)
            timeout = None
            if self.restart_at is not None:
                timeout = max(0, int((self.restart_at - time.monotonic()) * 1000))
            for fd, _ in poller.poll(timeout):
                if fd == wake_r:
                    try:
                        while os.read(wake_r, 512):
                            pass
                    except BlockingIOError:
                        pass
                elif self.sock is not None and fd == self.sock.fileno():
                    self._on_message()
            self._reap()
            if self.restart_at is not None and time.monotonic() >= self.restart_at:
                self._start_shim()

    def _stop(self, *_: object) -> None:
        """SIGTERM: the shim is told to stop, and the keeper goes with it."""
        self.stopping = True
        if self.shim_pid:
            try:
                os.kill(self.shim_pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        else:
            self._exit()

    def _exit(self) -> None:
        for _, fds in self.held.values():
            close_all(fds)
        os._exit(0)

    # --- the shim ------------------------------------------------------------

    def _start_shim(self) -> None:
        self.restart_at = None
        ours, theirs = socket.socketpair(socket.AF_UNIX,
                                         socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                signal.set_wakeup_fd(-1)
                for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT):
                    signal.signal(sig, signal.SIG_DFL)
                # Nothing of the keeper's stays open in the shim: a copy of a held stdin
                # would keep a container from ever seeing its end of input.
                keep = theirs.fileno()
                os.closerange(3, keep)
                os.closerange(keep + 1, 1 << 20)
                # SIGPIPE stays ignored, as Python has it: a client gone is an EPIPE.
                from darse.shim import server

                server.serve(self.exec_root, theirs)
                code = 0
            except BaseException:  # noqa: BLE001 - whatever it was, into the log
                import traceback

                traceback.print_exc()
            finally:
                os._exit(code)
        theirs.close()
        ours.settimeout(SEND_TIMEOUT)
        self.sock, self.shim_pid, self.started = ours, pid, time.monotonic()

    def _shim_ended(self, how: str, clean: bool) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        old, self.shim_pid = self.shim_pid, 0
        if clean or self.stopping:
            self._exit()
        quick = time.monotonic() - self.started < QUICK
        self.quick_deaths = self.quick_deaths + 1 if quick else 0
        delay = RESTART_DELAYS[min(self.quick_deaths, len(RESTART_DELAYS) - 1)]
        self.restart_at = time.monotonic() + delay
        print(f"darse-keeper: darse-shim {old} {how}; a new one in {delay:g}s",
              file=sys.stderr, flush=True)

    def _send(self, data: bytes, fds: list[int] | tuple[int, ...] = ()) -> None:
        if self.sock is None:
            return
        try:
            send(self.sock, data, fds)
        except OSError:  # the shim is going: what it missed, the next one reads in files
            pass

    def _on_message(self) -> None:
        assert self.sock is not None
        try:
            data, fds = recv(self.sock)
        except (BlockingIOError, InterruptedError, TimeoutError):
            return
        except OSError:
            data, fds = b"", []
        if not data:  # the shim is gone; its SIGCHLD says how
            close_all(fds)
            self.sock.close()
            self.sock = None
            return
        op, _, key = data.partition(b"\n")[0].partition(b" ")
        if op == b"hold" and key:
            old = self.held.pop(key, None)
            if old is not None:
                close_all(old[1])
            self.held[key] = (data, fds)
            return
        close_all(fds)
        if op == b"drop":
            old = self.held.pop(key, None)
            if old is not None:
                close_all(old[1])
        elif op == b"fetch":
            for held, held_fds in list(self.held.values()):
                self._send(held, held_fds)
            self._send(b"fetched")

    # --- orphans -------------------------------------------------------------

    def _reap(self) -> None:
        while True:
            try:
                # WNOWAIT: the zombie stays until its start time and status are recorded.
                info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                return
            if info is None or info.si_pid == 0:
                return
            pid = info.si_pid
            exited = info.si_code == os.CLD_EXITED
            code = info.si_status if exited else 128 + info.si_status
            if pid == self.shim_pid:
                os.waitpid(pid, 0)
                self._shim_ended(f"exited with {info.si_status}" if exited else
                                 f"killed by signal {info.si_status}",
                                 exited and info.si_status == 0)
                continue
            record = (f'{{"pid": {pid}, "start": {start_time(pid)}, "exit_code": {code}, '
                      f'"finished_at": "{now()}"}}').encode()
            self._record(pid, record)
            os.waitpid(pid, 0)
            self._send(b"reaped %d\n%s" % (pid, record))

    def _record(self, pid: int, record: bytes) -> None:
        path = os.path.join(self.reaped_dir, str(pid))
        try:
            with open(path + ".new", "wb") as f:
                f.write(record)
            os.replace(path + ".new", path)
        except OSError as exc:  # a full disk: the message to the shim may still carry it
            print(f"darse-keeper: {path}: {exc}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> None:
    """Run as `python -I -c "...; main()" ARGS` (darse.daemonize.spawn_main): neither -m
    nor runpy, whose imports would cost the keeper's memory for nothing."""
    args = sys.argv[1:] if argv is None else argv
    daemon = "--daemon" in args
    try:
        exec_root = args[args.index("--exec-root") + 1]
    except (ValueError, IndexError):
        print("usage: darse-keeper [--daemon] --exec-root DIR", file=sys.stderr)
        sys.exit(2)
    if daemon and os.fork():
        os._exit(0)  # nobody's child but init's, never a zombie of darsed
    os.makedirs(exec_root, exist_ok=True)
    import fcntl

    # One keeper per exec root, whoever races to start it: the loser leaves quietly.
    lock = os.open(os.path.join(exec_root, "keeper.lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC,
                   0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os._exit(0)
    from darse import syscalls

    syscalls.set_child_subreaper()
    try:
        with open("/proc/self/comm", "w") as f:
            f.write("darse-keeper")  # what ps and top show
    except OSError:
        pass
    import resource

    # It holds a few descriptors per container, the shim as many again.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < min(hard, 1 << 20):
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 1 << 20), hard))
    write_pid(os.path.join(exec_root, "keeper.pid"))
    Keeper(exec_root).run()


if __name__ == "__main__":
    main()
