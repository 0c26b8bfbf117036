"""linux.seccomp of the OCI runtime spec, compiled and loaded by libseccomp.

libseccomp turns names and conditions into BPF for every architecture the profile
lists; this module only translates the spec's JSON into its calls.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os

from darse.errors import InvalidArgument, Unavailable
from darse.runtime import seccomp_bpf

TYPE_CHECKING = False  # typing costs milliseconds at every container start
if TYPE_CHECKING:
    from typing import Any

ACT_KILL_THREAD = 0x00000000
ACT_KILL_PROCESS = 0x80000000
ACT_TRAP = 0x00030000
ACT_ERRNO = 0x00050000
ACT_NOTIFY = 0x7FC00000
ACT_TRACE = 0x7FF00000
ACT_LOG = 0x7FFC0000
ACT_ALLOW = 0x7FFF0000

_OPS = {
    "SCMP_CMP_NE": 1, "SCMP_CMP_LT": 2, "SCMP_CMP_LE": 3, "SCMP_CMP_EQ": 4,
    "SCMP_CMP_GE": 5, "SCMP_CMP_GT": 6, "SCMP_CMP_MASKED_EQ": 7,
}
_ATTR_CTL_NNP = 3
_ATTR_CTL_OPTIMIZE = 8
_NR_SCMP_ERROR = -1


class _ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int),
                ("datum_a", ctypes.c_uint64), ("datum_b", ctypes.c_uint64)]


_lib: ctypes.CDLL | None = None


def _libseccomp() -> ctypes.CDLL:
    global _lib
    if _lib is None:
        try:
            lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
        except OSError as exc:
            raise Unavailable("seccomp: libseccomp.so.2 is not installed") from exc
        lib.seccomp_init.restype = ctypes.c_void_p
        lib.seccomp_init.argtypes = [ctypes.c_uint32]
        lib.seccomp_release.argtypes = [ctypes.c_void_p]
        lib.seccomp_arch_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
        lib.seccomp_arch_resolve_name.restype = ctypes.c_uint32
        lib.seccomp_arch_resolve_name.argtypes = [ctypes.c_char_p]
        lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
        lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int,
                                               ctypes.c_uint, ctypes.POINTER(_ArgCmp)]
        lib.seccomp_attr_set.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32]
        lib.seccomp_arch_native.restype = ctypes.c_uint32
        lib.seccomp_syscall_resolve_name_arch.argtypes = [ctypes.c_uint32, ctypes.c_char_p]
        lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
        _lib = lib
    return _lib


# Compiled programs by profile. Compiling Docker's profile costs 25-50 ms of Python and
# libseccomp; done in the parent before the fork (create, exec) and kept by the shim, a
# fork server, it leaves the start of every container after the first.
_programs: dict[str, list[tuple[int, int, int, int]]] = {}
_PROGRAMS_KEPT = 16


# The last profile preloaded, and its program packed for the kernel: the forked child
# loads that very object (its config's), with no key to make nor program to pack
# (1.5 ms of Python in the child, on the start's critical path).
_ready: tuple[dict[str, Any], bytes] | None = None


def preload(profile: dict[str, Any] | None = None) -> None:
    """Load libseccomp now, while the host's libraries are in sight, and compile the
    profile the child will load (its errors surface here, before the fork)."""
    global _ready
    lib = _libseccomp()
    seccomp_bpf.prepare(lib)
    if profile is not None:
        _ready = profile, seccomp_bpf.pack(_program(profile))


def _program(profile: dict[str, Any]) -> list[tuple[int, int, int, int]]:
    key = json.dumps(profile, sort_keys=True)
    program = _programs.get(key)
    if program is None:
        program = _compile(profile)
        if len(_programs) >= _PROGRAMS_KEPT:
            _programs.pop(next(iter(_programs)))
        _programs[key] = program
    return program


def _action(name: str, errno_ret: int | None) -> int:
    # OCI runtime spec (config-linux.md, seccomp): errnoRet defaults to EPERM, for a rule
    # and for the default action alike; defaultErrnoRet is the default action's own.
    value = errno.EPERM if errno_ret is None else errno_ret
    if name == "SCMP_ACT_ERRNO":
        return ACT_ERRNO | (value & 0xFFFF)
    if name == "SCMP_ACT_TRACE":
        return ACT_TRACE | (value & 0xFFFF)
    simple = {"SCMP_ACT_KILL": ACT_KILL_THREAD, "SCMP_ACT_KILL_THREAD": ACT_KILL_THREAD,
              "SCMP_ACT_KILL_PROCESS": ACT_KILL_PROCESS, "SCMP_ACT_TRAP": ACT_TRAP,
              "SCMP_ACT_ALLOW": ACT_ALLOW, "SCMP_ACT_LOG": ACT_LOG}
    if name not in simple:
        raise InvalidArgument(f"linux.seccomp: unsupported action {name!r}")
    return simple[name]


def validate(profile: dict[str, Any]) -> None:
    """Check a linux.seccomp object without loading it (fails before anything is made)."""
    _action(profile.get("defaultAction", ""), profile.get("defaultErrnoRet"))
    for arch in profile.get("architectures") or []:
        if not str(arch).startswith("SCMP_ARCH_"):
            raise InvalidArgument(f"linux.seccomp.architectures: unknown architecture {arch!r}")
    for flag in profile.get("flags") or []:
        if flag not in seccomp_bpf.FLAGS:
            raise InvalidArgument(f"linux.seccomp.flags: unsupported flag {flag!r}")
    for i, rule in enumerate(profile.get("syscalls") or []):
        if not rule.get("names"):
            raise InvalidArgument(f"linux.seccomp.syscalls[{i}].names: must not be empty")
        _action(rule.get("action", ""), rule.get("errnoRet"))
        for arg in rule.get("args") or []:
            if arg.get("op") not in _OPS:
                raise InvalidArgument(
                    f"linux.seccomp.syscalls[{i}].args: unknown operator {arg.get('op')!r}")


def load(profile: dict[str, Any]) -> None:
    """Install the profile's program on the calling process (no way back)."""
    raw = _ready[1] if _ready is not None and _ready[0] is profile else \
        seccomp_bpf.pack(_program(profile))
    seccomp_bpf.install_packed(_libseccomp(), raw, profile.get("flags") or [])


def _compile(profile: dict[str, Any]) -> list[tuple[int, int, int, int]]:
    lib = _libseccomp()
    default = _action(profile["defaultAction"], profile.get("defaultErrnoRet"))
    ctx = lib.seccomp_init(default)
    if not ctx:
        raise InvalidArgument("linux.seccomp: libseccomp refused the default action")
    try:
        # The runtime sets no_new_privs itself when the spec asks; libseccomp must not.
        lib.seccomp_attr_set(ctx, _ATTR_CTL_NNP, 0)
        if len(profile.get("syscalls") or []) > 32:
            # A binary tree of calls rather than a list: what runc asks libseccomp for.
            lib.seccomp_attr_set(ctx, _ATTR_CTL_OPTIMIZE, 2)
        for arch in profile.get("architectures") or []:
            token = lib.seccomp_arch_resolve_name(arch[len("SCMP_ARCH_"):].lower().encode())
            if token == 0:
                raise InvalidArgument(f"linux.seccomp.architectures: unknown architecture {arch!r}")
            rc = lib.seccomp_arch_add(ctx, token)
            if rc < 0 and rc != -errno.EEXIST:
                raise InvalidArgument(f"linux.seccomp: cannot add architecture {arch}: "
                                      f"{os.strerror(-rc)}")
        for rule in profile.get("syscalls") or []:
            _add_rule(lib, ctx, rule, default)
        program = seccomp_bpf.export(lib, ctx)
    finally:
        lib.seccomp_release(ctx)
    return seccomp_bpf.enosys_stub(lib, profile) + program


def _add_rule(lib: ctypes.CDLL, ctx: int, rule: dict[str, Any], default: int) -> None:
    action = _action(rule["action"], rule.get("errnoRet"))
    if action == default:
        return  # libseccomp refuses rules that repeat the default; they change nothing
    args = rule.get("args") or []
    # libseccomp takes at most one condition per argument index in a rule; conditions
    # on the same index become separate rules, as runc does.
    indexes = [a.get("index", 0) for a in args]
    groups = [args] if len(set(indexes)) == len(indexes) else [[a] for a in args]
    for name in rule["names"]:
        nr = lib.seccomp_syscall_resolve_name(name.encode())
        if nr == _NR_SCMP_ERROR:
            continue  # a syscall libseccomp does not know: nothing to filter
        # Other negative numbers are libseccomp's pseudo-calls, real on some of the
        # profile's architectures (socketcall and ipc on x86): they are rules too.
        for group in groups:
            arr = (_ArgCmp * max(len(group), 1))()
            for j, a in enumerate(group):
                arr[j] = _ArgCmp(a.get("index", 0), _OPS[a["op"]], a.get("value", 0),
                                 a.get("valueTwo", 0))
            rc = lib.seccomp_rule_add_array(ctx, action, nr, len(group), arr)
            if rc < 0:
                raise InvalidArgument(f"linux.seccomp: rule for {name!r} refused: "
                                      f"{os.strerror(-rc)}")
