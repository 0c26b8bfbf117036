"""Layers unpacked in processes of their own, beside the one that fetches them.

Unpacking is CPU work in Python (tar headers, one file after another); several layers
unpacked by threads of one interpreter take turns on its lock and leave a second core
idle (a pull of 6 layers: 2.6 s with threads against 1.4 s one process per layer,
bench/README.md). So a pull starts one unpacker process (the cost of an interpreter,
once, while the manifest is fetched), and that process forks a worker per layer: the
fork of a small single-threaded process takes a millisecond, where a new interpreter
per layer would take 60.

The fetching side sends each layer's compressed bytes down a pipe; the worker
decompresses, checks and unpacks them with darse.image.layer.unpack (the same safe
writes as in-process) and answers its DiffID and size, or the error, on the unpacker's
socket. A worker that dies without answering is reported by the unpacker, so no fetch
waits forever; and the fetching side always waits for the answer before it removes the
scratch folder a worker writes in.

    python -m darse.image.unpacker FD     (FD: a SOCK_SEQPACKET socket to the fetcher)
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import select
import signal
import socket
import subprocess
import threading

from darse.errors import DarseError, InvalidArgument, SystemFailure

_MSG = 1 << 16
_PIPE_SIZE = 1 << 20  # fewer, larger reads and writes than a 64 kB pipe's
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)


class Unpackers:
    """One pull's unpacker process; start() a layer, write its bytes, then result()."""

    def __init__(self) -> None:
        from darse.daemonize import command_main, environment

        self.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.proc = subprocess.Popen(
                command_main("darse.image.unpacker", str(theirs.fileno())), cwd="/",
                env=environment(), stdin=subprocess.DEVNULL, pass_fds=(theirs.fileno(),))
        finally:
            theirs.close()
        self.lock = threading.Lock()
        self.ids = 0
        self.done: dict[int, dict] = {}
        self.ready = threading.Condition()
        self.reading = False

    def start(self, dest: str, source: int | None = None) -> Layer:
        """A worker unpacking into dest (an empty folder) what the Layer is fed, or what
        the open file source holds (read by the worker from where it is)."""
        if source is not None:
            return Layer(self, self._send(dest, source), -1)
        r, w = os.pipe2(os.O_CLOEXEC)
        try:
            try:
                fcntl.fcntl(w, _F_SETPIPE_SZ, _PIPE_SIZE)
            except OSError:
                pass  # over the host's pipe-max-size: the default pipe works too
            job = self._send(dest, r)
        except BaseException:
            os.close(w)
            raise
        finally:
            os.close(r)
        return Layer(self, job, w)

    def _send(self, dest: str, fd: int) -> int:
        with self.lock:
            self.ids += 1
            socket.send_fds(self.sock, [json.dumps({"id": self.ids, "dest": dest}).encode()],
                            [fd])
            return self.ids

    def _wait(self, job: int) -> dict:
        """The answer for job; one waiter at a time reads the socket for all."""
        with self.ready:
            while True:
                if job in self.done:
                    return self.done.pop(job)
                if not self.reading:
                    break
                self.ready.wait()
            self.reading = True
        try:
            data = self.sock.recv(_MSG)
        except OSError as exc:
            data, err = b"", exc
        else:
            err = None
        with self.ready:
            self.reading = False
            if data:
                answer = json.loads(data)
                self.done[answer["id"]] = answer
            else:  # the unpacker is gone: every waiter learns it
                self.done[job] = {"id": job, "error": f"layer unpacker exited: {err or 'EOF'}",
                                  "kind": "other"}
            self.ready.notify_all()
        return self._wait(job)

    def close(self) -> None:
        self.sock.close()  # its end of file: the unpacker waits for its workers and exits
        if not self.ids:
            self.proc.kill()  # never used (the pull had nothing to unpack): no wait
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> Unpackers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Layer:
    """The fetching side of one worker: write() the compressed bytes, then result()."""

    def __init__(self, unpackers: Unpackers, job: int, fd: int) -> None:
        self.unpackers, self.job, self.fd = unpackers, job, fd
        self.answer: dict | None = None

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self.fd, view):]
        except BrokenPipeError:
            pass  # the worker stopped reading: its answer says why

    def result(self) -> tuple[str, int]:
        """(DiffID, size) once the worker is done; its error raised as in-process."""
        answer = self._answer()
        if "error" not in answer:
            return answer["diff_id"], answer["size"]
        kind, message = answer["kind"], answer["error"]
        if kind == "invalid":
            raise InvalidArgument(message)
        if kind == "os":
            raise OSError(answer["errno"], message, answer.get("filename"))
        raise SystemFailure(message)

    def abort(self) -> None:
        """Stop feeding it and wait until the worker no longer writes (its error unread)."""
        self._answer()

    def _answer(self) -> dict:
        if self.fd >= 0:
            os.close(self.fd)  # its end of file
            self.fd = -1
        if self.answer is None:
            self.answer = self.unpackers._wait(self.job)
        return self.answer


# --- the unpacker process -------------------------------------------------------------

def _answer(job: int, dest: str, fd: int) -> dict:
    from darse.image import layer

    try:
        with open(fd, "rb", buffering=0) as raw:
            diff_id, size = layer.unpack(raw, dest)
        return {"id": job, "diff_id": diff_id, "size": size}
    except InvalidArgument as exc:  # a bad layer, an unsafe entry
        return {"id": job, "error": str(exc), "kind": "invalid"}
    except OSError as exc:
        return {"id": job, "error": exc.strerror or str(exc), "kind": "os",
                "errno": exc.errno or errno.EIO, "filename": exc.filename}
    except (DarseError, Exception) as exc:  # noqa: BLE001 - said to the fetcher, not lost
        return {"id": job, "error": f"unpacking the layer: {exc}", "kind": "other"}


def _work(sock: socket.socket, job: int, dest: str, fd: int) -> None:
    """In the forked worker: unpack, answer, exit (0 only once answered)."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    try:
        sock.send(json.dumps(_answer(job, dest, fd)).encode())
    finally:
        os._exit(0)


def main() -> None:
    import sys

    import darse.image.layer  # noqa: F401 - imported once, here, for every worker

    sock = socket.socket(fileno=int(sys.argv[1]))
    workers: dict[int, tuple[int, int]] = {}  # pidfd -> (pid, job)
    poll = select.poll()
    poll.register(sock, select.POLLIN)
    open_ = True
    while open_ or workers:
        for fd, _ in poll.poll():
            if fd == sock.fileno():
                msg, fds, _, _ = socket.recv_fds(sock, _MSG, 1)
                if not msg:
                    open_ = False
                    poll.unregister(sock)
                    continue
                request = json.loads(msg)
                pid = os.fork()
                if pid == 0:
                    _work(sock, request["id"], request["dest"], fds[0])
                os.close(fds[0])
                pidfd = os.pidfd_open(pid)
                workers[pidfd] = (pid, request["id"])
                poll.register(pidfd, select.POLLIN)
            else:
                pid, job = workers.pop(fd)
                poll.unregister(fd)
                os.close(fd)
                _, status = os.waitpid(pid, 0)
                if status:  # died before answering (a signal, the OOM killer)
                    code = os.waitstatus_to_exitcode(status)
                    how = f"signal {-code}" if code < 0 else f"exit status {code}"
                    try:
                        sock.send(json.dumps({"id": job, "kind": "other", "error":
                                              f"layer unpacker died: {how}"}).encode())
                    except OSError:
                        pass  # the fetcher is gone too


if __name__ == "__main__":
    main()
