"""Waiting on a container process in the foreground: signals forwarded, exit status
turned into a shell-style exit code (128+N for signal N), as runc run and exec do."""

from __future__ import annotations

import os
import signal
import socket

from darse.runtime import console

FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1,
             signal.SIGUSR2)


def exit_code(status: int) -> int:
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def forward_signals(pid: int) -> None:
    def handler(signum: int, _frame: object) -> None:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    for sig in FORWARDED:
        signal.signal(sig, handler)


def wait(pid: int, console_server: socket.socket | None = None) -> int:
    """Wait for pid (our child or, through the subreaper, our descendant)."""
    forward_signals(pid)
    if console_server is not None:
        _, master = console.recv_fd(console_server)
        console_server.close()
        console.proxy(master, pid)
        os.close(master)
    while True:
        got, status = os.waitpid(pid, 0)
        if got == pid:
            return exit_code(status)
