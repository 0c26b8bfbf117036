"""The last steps before a container process runs: limits, identity, privileges, exec.

Shared by the container's init and by exec'd processes; runs in the child only.
"""

from __future__ import annotations

import os
import resource

from darse import syscalls as sc
from darse.errors import InvalidArgument, SystemFailure
from darse.runtime import capabilities, seccomp
from darse.runtime.spec import RLIMITS

TYPE_CHECKING = False  # typing costs milliseconds at every container start
if TYPE_CHECKING:
    from typing import Any, NoReturn

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def env_dict(proc: dict[str, Any]) -> dict[str, str]:
    # A bare `KEY` (kept by the engine as Docker keeps it) names no value: not passed.
    return dict(item.split("=", 1) for item in proc.get("env") or [] if "=" in item)


def reset_signals() -> None:
    """In a forked child: drop the parent's Python signal handling. A monitor's event
    loop (asyncio) would otherwise hear, through the shared wakeup fd, the signals sent
    to a container process that has not exec'd yet."""
    import signal

    signal.set_wakeup_fd(-1)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGCHLD,
                signal.SIGUSR1, signal.SIGUSR2, signal.SIGWINCH, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_DFL)


def dup_stdio(stdio: tuple[int, int, int]) -> None:
    """In a forked child: the given fds become 0, 1, 2 (a monitor's pipes)."""
    for target, fd in enumerate(stdio):
        if fd != target:
            os.dup2(fd, target)


def find_executable(proc: dict[str, Any]) -> str:
    """Resolve args[0] as execvp would, with the container's PATH, from its cwd."""
    name = proc["args"][0]
    if "/" in name:
        path = name if name.startswith("/") else os.path.join(proc.get("cwd") or "/", name)
        if not os.path.exists(path):
            raise InvalidArgument(f'exec: "{name}": stat {name}: no such file or directory')
        return path
    for directory in (env_dict(proc).get("PATH") or DEFAULT_PATH).split(":"):
        candidate = os.path.join(directory or ".", name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise InvalidArgument(f'exec: "{name}": executable file not found in $PATH')


def apply_rlimits(proc: dict[str, Any]) -> None:
    for rl in proc.get("rlimits") or []:
        try:
            resource.setrlimit(RLIMITS[rl["type"]], (rl["soft"], rl["hard"]))
        except (OSError, ValueError) as exc:
            raise SystemFailure(f"error setting rlimit type {rl['type']}: {exc}") from None


def apply_oom_score(proc: dict[str, Any]) -> None:
    if "oomScoreAdj" in proc:
        try:
            with open("/proc/self/oom_score_adj", "w") as f:
                f.write(str(proc["oomScoreAdj"]))
        except OSError as exc:
            raise SystemFailure(f"cannot set oomScoreAdj: {exc.strerror}") from None


def _cloexec_from(first: int) -> None:
    """Mark every fd from `first` on close-on-exec: only stdio and preserved fds pass.
    One system call, not one per descriptor inherited from the supervisor (three or so
    per container it holds)."""
    try:
        sc.close_range_cloexec(first)
        return
    except OSError:  # before Linux 5.11, or refused by the container's seccomp profile
        pass
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd >= first:
            try:
                os.set_inheritable(fd, False)
            except OSError:
                pass


def exec_process(proc: dict[str, Any], path: str, seccomp_profile: dict | None,
                 preserve_fds: int = 0) -> NoReturn:
    """Become the user, drop privileges, install seccomp, and exec. Never returns."""
    become(proc, seccomp_profile)
    execute(proc, path, seccomp_profile, preserve_fds)


def become(proc: dict[str, Any], seccomp_profile: dict | None) -> None:
    """The user, its groups, capabilities and no_new_privs: done by a container's init
    before it says it is ready, so that what cannot be applied fails create (as runc)."""
    caps = capabilities.parse(proc.get("capabilities"))
    nnp = bool(proc.get("noNewPrivileges"))
    user = proc.get("user") or {}
    os.chdir(proc.get("cwd") or "/")
    if seccomp_profile and not nnp:
        # Without no_new_privs the filter needs CAP_SYS_ADMIN, so it goes on while we
        # still have it; a filter that blocks later steps is the profile's business.
        seccomp.load(seccomp_profile)
    if caps is not None:
        _caps_step(capabilities.drop_bounding, caps)
    sc.prctl(sc.PR_SET_KEEPCAPS, 1)
    os.setgroups(user.get("additionalGids") or [])
    gid, uid = user.get("gid", 0), user.get("uid", 0)
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    sc.prctl(sc.PR_SET_KEEPCAPS, 0)
    if caps is not None:
        _caps_step(capabilities.apply, caps)
    os.umask(user.get("umask", 0o022))
    if nnp:
        sc.prctl(sc.PR_SET_NO_NEW_PRIVS, 1)


def _caps_step(step: Any, caps: capabilities.CapSets) -> None:
    try:
        step(caps)
    except OSError as exc:
        raise SystemFailure(f"unable to apply caps: {os.strerror(exc.errno or 0)}") from None


def execute(proc: dict[str, Any], path: str, seccomp_profile: dict | None,
            preserve_fds: int = 0) -> NoReturn:
    """The last step, after become: the filter that no_new_privs allows, then execve."""
    _cloexec_from(3 + preserve_fds)
    if seccomp_profile and proc.get("noNewPrivileges"):
        seccomp.load(seccomp_profile)
    os.execve(path, proc["args"], env_dict(proc))
