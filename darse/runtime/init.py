"""The container's init, from fork to exec: what runc's nsexec and init do.

Runs only in the forked child of a single-threaded runtime process. It talks to the
parent over a Channel; any failure is sent back as an "error" message and the child exits,
so the parent can undo everything and report it.
"""

from __future__ import annotations

import os

from darse import syscalls as sc
from darse.runtime import console, hooks, mounts, namespaces, process, rootfs, sysctl
from darse.runtime.sync import Channel

TYPE_CHECKING = False  # typing costs milliseconds at every container start
if TYPE_CHECKING:
    from typing import Any, NoReturn


class InitContext:
    """What the init needs from create, fixed before the fork."""

    def __init__(self, config: dict[str, Any], bundle: str, rootfs: str, fifo_fd: int,
                 cgroup_paths: dict[str, str], console_fd: int | None, no_pivot: bool,
                 preserve_fds: int) -> None:
        self.config, self.bundle, self.rootfs, self.fifo_fd = config, bundle, rootfs, fifo_fd
        self.cgroup_paths, self.console_fd = cgroup_paths, console_fd
        self.no_pivot, self.preserve_fds = no_pivot, preserve_fds


def _fail(chan: Channel, exc: BaseException) -> NoReturn:
    try:
        message = str(exc) if not isinstance(exc, OSError) else _os_message(exc)
        if os.environ.get("DARSE_RUNTIME_DEBUG"):
            import traceback

            message += "\n" + traceback.format_exc()
        chan.send("error", message=message)
    finally:
        os._exit(1)


def _os_message(exc: OSError) -> str:
    where = f": {exc.filename}" if exc.filename else ""
    return f"{exc.strerror}{where}"


def enter_namespaces(chan: Channel, linux: dict[str, Any], new: set[str],
                     joined: dict[str, str]) -> bool:
    """Join and create namespaces; fork if a pid (or time) namespace needs it.

    Returns True in the process that goes on as the container's process; the
    intermediate parent reports that process's pid and exits.
    """
    # As runc's nsexec: join every namespace given by path first (while we still have
    # the rights over those the host owns, e.g. a network namespace made by the engine),
    # then make the new user namespace, then the others inside it.
    namespaces.join(joined)
    if "user" in new:
        namespaces.unshare({"user"})
        chan.send("userns")
        chan.expect("userns-mapped")
        os.setresgid(0, 0, 0)
        os.setresuid(0, 0, 0)
    elif "user" in joined:
        # A user namespace joined by path (a pod's) leaves our ids the host's root, which
        # it does not map: files made in the filesystems it owns (the /dev tmpfs) would
        # fail with EOVERFLOW. Its root is who makes the container.
        os.setresgid(0, 0, 0)
        os.setresuid(0, 0, 0)
    # The cgroup namespace once in the container's cgroups (_in_cgroups).
    namespaces.unshare(new - {"user", "cgroup"})
    if "pid" in new or "pid" in joined or "time" in new:
        fork_reporting_pid(chan)
        return True
    chan.send("pid", pid=os.getpid())
    return True


def fork_reporting_pid(chan: Channel) -> None:
    """Fork; the parent reports the child's pid and exits, the child goes on only after
    that report — both write on one channel, and the runtime reads "pid" first. A byte
    says the report is sent: the end of the pipe would come only once the parent's exit
    has unmapped its copy of the runtime's memory (milliseconds, 10 ms and more on a busy
    host)."""
    r, w = os.pipe()
    child = os.fork()
    if child:
        os.close(r)
        chan.send("pid", pid=child)
        os.write(w, b"1")
        os._exit(0)
    os.close(w)
    os.read(r, 1)  # b"" if the parent died first: the runtime has its error
    os.close(r)


def bootstrap(chan: Channel, ctx: InitContext) -> NoReturn:
    try:
        chan.expect("go")
        linux = ctx.config.get("linux") or {}
        new = {ns["type"] for ns in linux.get("namespaces") or [] if not ns.get("path")}
        joined = {ns["type"]: ns["path"] for ns in linux.get("namespaces") or []
                  if ns.get("path")}
        enter_namespaces(chan, linux, new, joined)
        os.setsid()
        _init(chan, ctx, new)
    except BaseException as exc:  # noqa: BLE001 - every failure must reach the parent
        _fail(chan, exc)


def _in_cgroups(chan: Channel, new: set[str]) -> None:
    """Wait for the runtime's move of this process into the container's cgroups, which
    goes on while the namespaces and mounts are made; then, as runc, the new cgroup
    namespace, whose root they are. Devices are made, hooks run and the user's process
    started only in them."""
    chan.expect("cgroup")
    namespaces.unshare(new & {"cgroup"})


def _init(chan: Channel, ctx: InitContext, new: set[str]) -> NoReturn:
    config = ctx.config
    linux = config.get("linux") or {}
    proc = config["process"]
    in_userns = "user" in new or any(ns["type"] == "user" and ns.get("path")
                                     for ns in linux.get("namespaces") or [])
    own_mounts = any(ns["type"] == "mount" for ns in linux.get("namespaces") or [])
    if "cgroup" in new:  # a cgroup filesystem mounted below shows the namespace's root
        _in_cgroups(chan, new)
    if own_mounts:
        rootfs.prepare(ctx.rootfs, linux.get("rootfsPropagation", ""))
    for m in config.get("mounts") or []:
        mounts.mount_one(ctx.rootfs, ctx.bundle, m, ctx.cgroup_paths, "cgroup" in new)
    if "cgroup" not in new:
        _in_cgroups(chan, new)
    dev_setup = rootfs.needs_dev_setup(config.get("mounts") or [])
    if dev_setup:
        rootfs.setup_dev(ctx.rootfs, in_userns)
    rootfs.create_devices(ctx.rootfs, linux.get("devices") or [], in_userns)
    if dev_setup:
        rootfs.setup_dev_links(ctx.rootfs)

    chan.send("create-runtime-hooks")
    state = chan.expect("create-container-hooks")["state"]
    hooks.run(config, "createContainer", state)

    if not own_mounts:
        rootfs.chroot(ctx.rootfs)  # the runtime's namespace: neither pivot nor move
    elif ctx.no_pivot:
        rootfs.move_root(ctx.rootfs)
    else:
        rootfs.pivot(ctx.rootfs)
    if linux.get("rootfsPropagation"):
        sc.mount(None, "/", None, mounts.PROPAGATION[linux["rootfsPropagation"]])
    sysctl.apply(linux.get("sysctl") or {})
    for path in linux.get("maskedPaths") or []:
        rootfs.mask_path(path)
    for path in linux.get("readonlyPaths") or []:
        rootfs.readonly_path(path)
    if config.get("hostname"):
        sc.sethostname(config["hostname"])
    if config.get("domainname"):
        sc.setdomainname(config["domainname"])
    if proc.get("terminal"):
        console.setup_in_container(ctx.console_fd, proc.get("consoleSize"), bind_console=True)
    if config["root"].get("readonly"):
        rootfs.readonly_root()
    process.apply_oom_score(proc)
    process.apply_rlimits(proc)
    path = process.find_executable(proc)
    process.become(proc, linux.get("seccomp"))

    chan.send("ready")
    chan.close()
    if os.read(ctx.fifo_fd, 1) == b"":
        os._exit(0)
    os.close(ctx.fifo_fd)
    try:
        hooks.run(config, "startContainer", state)
        process.execute(proc, path, linux.get("seccomp"), ctx.preserve_fds)
    except BaseException as exc:  # noqa: BLE001 - nobody is listening any more
        message = _os_message(exc) if isinstance(exc, OSError) else str(exc)
        os.write(2, f"darse-runtime: {message}\n".encode())
        os._exit(127 if isinstance(exc, OSError) else 1)
