"""process.terminal: a pty made inside the container, its master handed out over a unix
socket with SCM_RIGHTS (runc's --console-socket protocol), or proxied to our own tty."""

from __future__ import annotations

import array
import fcntl
import os
import select
import socket
import struct
import termios

from darse import syscalls as sc


def send_fd(sock_fd: int, fd: int, name: str) -> None:
    sock = socket.socket(fileno=os.dup(sock_fd))
    try:
        sock.sendmsg([name.encode()], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                                        array.array("i", [fd]))])
    finally:
        sock.close()


def recv_fd(sock: socket.socket) -> tuple[str, int]:
    fds = array.array("i")
    msg, ancdata, _, _ = sock.recvmsg(4096, socket.CMSG_SPACE(fds.itemsize))
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[:fds.itemsize])
    if not fds:
        raise OSError("no file descriptor received on the console socket")
    return msg.decode(errors="replace"), fds[0]


def set_size(fd: int, rows: int, cols: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def get_size(fd: int) -> tuple[int, int]:
    rows, cols, _, _ = struct.unpack("HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))
    return rows, cols


def setup_in_container(console_fd: int, size: dict | None, bind_console: bool) -> None:
    """In the container's init or exec process: new pty, hand out the master, make the
    slave our controlling terminal and stdio."""
    master, slave = os.openpty()
    name = os.ttyname(slave)
    if size:
        set_size(slave, size.get("height", 0), size.get("width", 0))
    if bind_console:
        if not os.path.lexists("/dev/console"):
            os.close(os.open("/dev/console", os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o600))
        sc.mount(name, "/dev/console", None, sc.MS_BIND)
    send_fd(console_fd, master, name)
    os.close(master)
    os.close(console_fd)
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    for target in (0, 1, 2):
        os.dup2(slave, target)
    if slave > 2:
        os.close(slave)


def proxy(master: int, pid: int) -> None:
    """Copy our stdin to the pty and the pty to our stdout until the process exits (runc's
    foreground -t); our terminal goes raw meanwhile and its size follows ours."""
    import signal
    import tty

    stdin_tty = os.isatty(0)
    saved = termios.tcgetattr(0) if stdin_tty else None
    if stdin_tty:
        set_size(master, *get_size(0))
        tty.setraw(0, termios.TCSANOW)  # TCSAFLUSH would drop typeahead
        signal.signal(signal.SIGWINCH, lambda *_: set_size(master, *get_size(0)))
    exited = os.pidfd_open(pid)
    fds = [master, 0, exited]
    try:
        while True:
            ready, _, _ = select.select(fds, [], [])
            if master in ready and not _copy(master, 1):
                break
            if 0 in ready and not _copy(0, master):
                fds.remove(0)
            if exited in ready:
                # Drain what the process wrote before it went, then stop.
                while select.select([master], [], [], 0)[0] and _copy(master, 1):
                    pass
                break
    finally:
        os.close(exited)
        if saved is not None:
            termios.tcsetattr(0, termios.TCSADRAIN, saved)


def _copy(src: int, dst: int) -> bool:
    try:
        data = os.read(src, 65536)
    except OSError:  # EIO: the pty's other side is gone
        return False
    if data:
        os.write(dst, data)
    return bool(data)
