"""linux.seccomp of the OCI runtime spec, compiled and loaded by libseccomp.

libseccomp turns names and conditions into BPF for every architecture the profile
lists; this module only translates the spec's JSON into its calls.
"""

from __future__ import annotations

import ctypes
import errno
import os

from darse.errors import InvalidArgument, Unavailable

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
_FLAG_ATTRS = {
    # OCI flag name: libseccomp attribute (enum scmp_filter_attr)
    "SECCOMP_FILTER_FLAG_TSYNC": 4,
    "SECCOMP_FILTER_FLAG_LOG": 6,
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW": 7,
}
_ATTR_CTL_NNP = 3


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
        lib.seccomp_load.argtypes = [ctypes.c_void_p]
        _lib = lib
    return _lib


def preload() -> None:
    """Load libseccomp now, while the host's libraries are in sight."""
    _libseccomp()


def _action(name: str, errno_ret: int | None, default_errno: int | None) -> int:
    if name == "SCMP_ACT_ERRNO":
        value = errno_ret if errno_ret is not None else (
            default_errno if default_errno is not None else errno.EPERM)
        return ACT_ERRNO | (value & 0xFFFF)
    if name == "SCMP_ACT_TRACE":
        value = errno_ret if errno_ret is not None else (
            default_errno if default_errno is not None else errno.EPERM)
        return ACT_TRACE | (value & 0xFFFF)
    simple = {"SCMP_ACT_KILL": ACT_KILL_THREAD, "SCMP_ACT_KILL_THREAD": ACT_KILL_THREAD,
              "SCMP_ACT_KILL_PROCESS": ACT_KILL_PROCESS, "SCMP_ACT_TRAP": ACT_TRAP,
              "SCMP_ACT_ALLOW": ACT_ALLOW, "SCMP_ACT_LOG": ACT_LOG}
    if name not in simple:
        raise InvalidArgument(f"linux.seccomp: unsupported action {name!r}")
    return simple[name]


def validate(profile: dict[str, Any]) -> None:
    """Check a linux.seccomp object without loading it (fails before anything is made)."""
    default_errno = profile.get("defaultErrnoRet")
    _action(profile.get("defaultAction", ""), None, default_errno)
    for arch in profile.get("architectures") or []:
        if not str(arch).startswith("SCMP_ARCH_"):
            raise InvalidArgument(f"linux.seccomp.architectures: unknown architecture {arch!r}")
    for flag in profile.get("flags") or []:
        if flag not in _FLAG_ATTRS:
            raise InvalidArgument(f"linux.seccomp.flags: unsupported flag {flag!r}")
    for i, rule in enumerate(profile.get("syscalls") or []):
        if not rule.get("names"):
            raise InvalidArgument(f"linux.seccomp.syscalls[{i}].names: must not be empty")
        _action(rule.get("action", ""), rule.get("errnoRet"), default_errno)
        for arg in rule.get("args") or []:
            if arg.get("op") not in _OPS:
                raise InvalidArgument(
                    f"linux.seccomp.syscalls[{i}].args: unknown operator {arg.get('op')!r}")


def load(profile: dict[str, Any]) -> None:
    """Compile the profile and install it on the calling process (no way back)."""
    lib = _libseccomp()
    default_errno = profile.get("defaultErrnoRet")
    default = _action(profile["defaultAction"], None, default_errno)
    ctx = lib.seccomp_init(default)
    if not ctx:
        raise InvalidArgument("linux.seccomp: libseccomp refused the default action")
    try:
        # The runtime sets no_new_privs itself when the spec asks; libseccomp must not.
        lib.seccomp_attr_set(ctx, _ATTR_CTL_NNP, 0)
        for flag in profile.get("flags") or []:
            lib.seccomp_attr_set(ctx, _FLAG_ATTRS[flag], 1)
        for arch in profile.get("architectures") or []:
            token = lib.seccomp_arch_resolve_name(arch[len("SCMP_ARCH_"):].lower().encode())
            if token == 0:
                raise InvalidArgument(f"linux.seccomp.architectures: unknown architecture {arch!r}")
            rc = lib.seccomp_arch_add(ctx, token)
            if rc < 0 and rc != -errno.EEXIST:
                raise InvalidArgument(f"linux.seccomp: cannot add architecture {arch}: "
                                      f"{os.strerror(-rc)}")
        for rule in profile.get("syscalls") or []:
            _add_rule(lib, ctx, rule, default, default_errno)
        rc = lib.seccomp_load(ctx)
        if rc < 0:
            raise OSError(-rc, f"seccomp_load: {os.strerror(-rc)}")
    finally:
        lib.seccomp_release(ctx)


def _add_rule(lib: ctypes.CDLL, ctx: int, rule: dict[str, Any], default: int,
              default_errno: int | None) -> None:
    action = _action(rule["action"], rule.get("errnoRet"), default_errno)
    if action == default:
        return  # libseccomp refuses rules that repeat the default; they change nothing
    args = rule.get("args") or []
    # libseccomp takes at most one condition per argument index in a rule; conditions
    # on the same index become separate rules, as runc does.
    indexes = [a.get("index", 0) for a in args]
    groups = [args] if len(set(indexes)) == len(indexes) else [[a] for a in args]
    for name in rule["names"]:
        nr = lib.seccomp_syscall_resolve_name(name.encode())
        if nr < 0:
            continue  # a syscall this kernel or libseccomp does not know: nothing to filter
        for group in groups:
            arr = (_ArgCmp * max(len(group), 1))()
            for j, a in enumerate(group):
                arr[j] = _ArgCmp(a.get("index", 0), _OPS[a["op"]], a.get("value", 0),
                                 a.get("valueTwo", 0))
            rc = lib.seccomp_rule_add_array(ctx, action, nr, len(group), arr)
            if rc < 0:
                raise InvalidArgument(f"linux.seccomp: rule for {name!r} refused: "
                                      f"{os.strerror(-rc)}")


# Go's architecture names, as Docker profiles' includes/excludes use them.
_GO_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "i686": "x86", "armv7l": "arm",
            "s390x": "s390x", "ppc64le": "ppc64le", "riscv64": "riscv64"}


def _kernel_at_least(version: str) -> bool:
    want = tuple(int(x) for x in version.split(".")[:2])
    have = tuple(int(x) for x in os.uname().release.split("-")[0].split(".")[:2])
    return have >= want


def from_docker(profile: dict[str, Any], caps: list[str]) -> dict[str, Any]:
    """A Docker-format seccomp profile (archMap, includes/excludes by caps, arches and
    kernel) resolved for this host and these capabilities into the OCI linux.seccomp."""
    arch = _GO_ARCH.get(os.uname().machine, os.uname().machine)
    machine = "SCMP_ARCH_" + os.uname().machine.upper()
    out: dict[str, Any] = {"defaultAction": profile["defaultAction"], "syscalls": []}
    if "defaultErrnoRet" in profile:
        out["defaultErrnoRet"] = profile["defaultErrnoRet"]
    for entry in profile.get("archMap") or []:
        if entry["architecture"] == machine:
            out["architectures"] = [entry["architecture"], *entry.get("subArchitectures", [])]
    have = set(caps)
    for rule in profile.get("syscalls") or []:
        inc, exc = rule.get("includes") or {}, rule.get("excludes") or {}
        if inc.get("arches") and arch not in inc["arches"]:
            continue
        if inc.get("caps") and not set(inc["caps"]) <= have:
            continue
        if inc.get("minKernel") and not _kernel_at_least(inc["minKernel"]):
            continue
        if arch in (exc.get("arches") or []) or have & set(exc.get("caps") or []):
            continue
        names = rule.get("names") or ([rule["name"]] if rule.get("name") else [])
        converted = {"names": names, "action": rule["action"]}
        for key in ("errnoRet", "args"):
            if rule.get(key):
                converted[key] = rule[key]
        out["syscalls"].append(converted)
    return out
