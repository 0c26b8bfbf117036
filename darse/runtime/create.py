"""create: from a bundle to a container whose init waits for `start`.

The parent side of the handshake with init.py. On any failure everything made so far
(the init, its cgroups, the state directory) is undone before the error is raised.
"""

from __future__ import annotations

import os
import signal
import socket
import sys

from darse.errors import InvalidArgument, NotFound, SystemFailure
from darse.runtime import (
    cgroups,
    execwatch,
    hooks,
    init,
    namespaces,
    process,
    seccomp,
    spec,
    state,
)
from darse.runtime.state import ContainerState
from darse.runtime.sync import Channel

TYPE_CHECKING = False  # typing costs milliseconds at every container start
if TYPE_CHECKING:
    from typing import Any


def _rootfs_path(bundle: str, config: dict[str, Any]) -> str:
    path = config["root"]["path"]
    path = path if path.startswith("/") else os.path.join(bundle, path)
    path = os.path.realpath(path)
    if not os.path.isdir(path):
        raise NotFound(f"rootfs ({path}) does not exist")
    return path


def _connect_console(path: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError as exc:
        sock.close()
        raise NotFound(f"cannot connect to console socket {path}: {exc.strerror}") from None
    return sock


def create(root: str, container_id: str, bundle: str, *, console_socket: str | None = None,
           console_sock: socket.socket | None = None, pid_file: str | None = None,
           no_pivot: bool = False, preserve_fds: int = 0,
           stdio: tuple[int, int, int] | None = None) -> ContainerState:
    """Create the container; its init is left blocked until start().

    console_sock, an already connected socket, is for callers in-process (run -t);
    console_socket is runc's --console-socket path. stdio, when given, becomes the
    init's fds 0, 1 and 2 (a monitor's pipes) instead of the caller's own.
    """
    bundle = os.path.abspath(bundle)
    config = spec.load(bundle)
    if "process" not in config:
        raise InvalidArgument("config.json: process: required to create a container")
    rootfs_path = _rootfs_path(bundle, config)
    terminal = config["process"].get("terminal", False)
    if terminal and console_socket is None and console_sock is None:
        raise InvalidArgument("cannot allocate tty if darse-runtime will detach without "
                              "setting console socket")
    if not terminal and (console_socket or console_sock):
        raise InvalidArgument("cannot use console socket if darse-runtime will not allocate tty")
    linux = config.get("linux") or {}
    paths = cgroups.resolve(linux.get("cgroupsPath", ""), container_id)

    directory = state.reserve(root, container_id)
    st = ContainerState(id=container_id, bundle=bundle, rootfs=rootfs_path, config=config,
                        cgroup_paths=paths, cgroup_parents=cgroups.missing_parents(paths),
                        created=state.now(), owner="")
    child = init_pid = 0
    fifo_fd = watch_r = watch_w = -1
    chan = child_chan = None
    try:
        os.mkfifo(os.path.join(directory, "exec.fifo"), 0o622)
        # Opened here and inherited: the init may not be able to reach the state dir (a
        # remapped root cannot), and O_RDWR keeps a writer so its read() waits for start.
        fifo_fd = os.open(os.path.join(directory, "exec.fifo"), os.O_RDWR | os.O_CLOEXEC)
        # linux.devices are made, not allowed: the device cgroup allows what
        # linux.resources.devices says (and the defaults), as with runc; Docker adds a
        # rule of its own for each --device, with the permissions the user gave. Made
        # before the fork: the init's mounts may bind them.
        cgroups.create(paths, linux.get("resources") or {})
        if console_socket:
            console_sock = _connect_console(console_socket)
        if linux.get("seccomp"):
            # The library mapped before the host's / is gone, the program compiled (once
            # per profile in the shim) before the container's start waits on it.
            seccomp.preload(linux["seccomp"])
        chan, child_chan = Channel.pair()
        watch_r, watch_w = os.pipe2(os.O_CLOEXEC)  # see execwatch
        ctx = init.InitContext(config=config, bundle=bundle, rootfs=rootfs_path,
                               fifo_fd=fifo_fd, cgroup_paths=paths,
                               console_fd=console_sock.fileno() if console_sock else None,
                               no_pivot=no_pivot, preserve_fds=preserve_fds)
        child = os.fork()
        if child == 0:
            chan.close()
            process.reset_signals()
            if stdio is not None:
                process.dup_stdio(stdio)
            init.bootstrap(child_chan, ctx)
        child_chan.close()
        child_chan = None
        os.close(watch_w)
        watch_w = -1
        os.close(fifo_fd)
        fifo_fd = -1
        if console_socket and console_sock:
            console_sock.close()
        init_pid = _handshake(root, chan, child, st, config)
    except BaseException:
        for pid in {child, init_pid} - {0}:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        _reap(child)
        _undo(root, st)
        if watch_r >= 0:
            os.close(watch_r)
        raise
    finally:
        for fd in (fifo_fd, watch_w):
            if fd >= 0:
                os.close(fd)
        if chan:
            chan.close()
        if child_chan:
            child_chan.close()
    if pid_file:
        _write_pid_file(pid_file, init_pid)
    execwatch.keep(container_id, watch_r)
    return st


def _handshake(root: str, chan: Channel, child: int, st: ContainerState, config: dict) -> int:
    linux = config.get("linux") or {}
    # The child is moved into its cgroups while it makes its namespaces, the init (which
    # may be forked before that move is done) while it makes its mounts: the first
    # write to a cgroup.procs waits out a grace period of RCU (~10 ms on cgroup v1), the
    # next, right after, is quick. The init waits for "cgroup" before anything the
    # cgroups rule (its devices, a cgroup namespace, hooks, the user's process): see
    # init._in_cgroups.
    chan.send("go")
    try:
        cgroups.add_process(st.cgroup_paths, child)
    except ProcessLookupError:
        pass  # gone already: the channel says why (or gives the init's pid)
    init_pid = intermediate = 0
    while True:
        try:
            msg = chan.recv()
        except EOFError:
            raise SystemFailure("container init exited before it was ready") from None
        kind = msg["type"]
        if kind == "error":
            raise SystemFailure(msg["message"])
        if kind == "userns":
            namespaces.write_id_maps(child, linux["uidMappings"], linux["gidMappings"])
            chan.send("userns-mapped")
        elif kind == "pid":
            init_pid = msg["pid"]
            if init_pid != child:
                intermediate = child  # reaped once ready: its exit takes a while
            stat = state.proc_stat(init_pid)
            if stat is None:
                raise SystemFailure("container init exited before it was ready")
            st.pid, st.pid_start = init_pid, stat[1]
            _move(chan, st, init_pid)
        elif kind == "create-runtime-hooks":
            oci = st.oci_state(state.CREATING)
            hooks.run(config, "prestart", oci)
            hooks.run(config, "createRuntime", oci)
            chan.send("create-container-hooks", state=oci)
        elif kind == "ready":
            _reap(intermediate)
            state.save(root, st)
            return init_pid


def _move(chan: Channel, st: ContainerState, init_pid: int) -> None:
    """The init into the container's cgroups, then "cgroup" to it. An init that failed
    meanwhile is gone from under the write, and its error is what the caller must see."""
    try:
        cgroups.add_process(st.cgroup_paths, init_pid)
    except ProcessLookupError:
        while True:
            try:
                msg = chan.recv()
            except EOFError:
                raise SystemFailure("container init exited before it was ready") from None
            if msg["type"] == "error":
                raise SystemFailure(msg["message"]) from None
    try:
        chan.send("cgroup")
    except OSError:  # it failed since: its error waits in the channel
        pass


def _reap(pid: int) -> None:
    if pid:
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass


def _undo(root: str, st: ContainerState) -> None:
    """Best effort: the error being raised is the one the caller must see."""
    try:
        cgroups.signal_all(st.cgroup_paths)
        cgroups.destroy(st.cgroup_paths, st.cgroup_parents)
        from darse.runtime import delete, rootfs

        if not delete.own_mount_namespace(st.config):
            rootfs.unmount_under(st.rootfs)
    except (OSError, SystemFailure) as exc:
        print(f"darse-runtime: cleaning up {st.id}: {exc}", file=sys.stderr)
    finally:
        state.remove(root, st.id)


def _write_pid_file(path: str, pid: int) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        f.write(str(pid))
    os.rename(tmp, path)
