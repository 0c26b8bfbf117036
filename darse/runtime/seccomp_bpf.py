"""The filter as the kernel gets it: libseccomp's BPF, behind an -ENOSYS stub.

A filter whose default action refuses (an errno, kill, trap) would refuse a system call
newer than its profile the same way: but glibc and others probe new calls (clone3,
faccessat2, ...) and fall back to the old ones only on ENOSYS. runc, and so Docker,
answer ENOSYS to any call numbered above the highest one the profile names, per
architecture; darse puts the same kind of stub in front of libseccomp's program, so a
program in a container sees the same errors under both.
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct

TYPE_CHECKING = False  # typing costs milliseconds at every container start
if TYPE_CHECKING:
    from typing import Any

# Classic BPF opcodes (linux/filter.h) and the offsets of struct seccomp_data.
_LD_W_ABS, _JA, _JEQ, _JGT, _JSET, _RET = 0x20, 0x05, 0x15, 0x25, 0x45, 0x06
_NR, _ARCH = 0, 4
_RET_ENOSYS = 0x00050000 | errno.ENOSYS  # SECCOMP_RET_ERRNO | ENOSYS

# libseccomp's architecture tokens are the kernel's AUDIT_ARCH_* values, except x32:
# the kernel reports x32 calls as x86_64 ones with bit 30 set in the number.
_AUDIT_X86_64 = 0xC000003E
_TOKEN_X32 = 0x4000003E
_X32_BIT = 0x40000000
# s390 sends calls it does not know to number 0 (the unused setup(2) slot).
_S390 = (0x00000016, 0x80000016)

FLAGS = {"SECCOMP_FILTER_FLAG_TSYNC": 1, "SECCOMP_FILTER_FLAG_LOG": 2,
          "SECCOMP_FILTER_FLAG_SPEC_ALLOW": 4}
_PERMISSIVE = ("SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_TRACE")


def _last_syscalls(lib: ctypes.CDLL, profile: dict[str, Any]) -> dict[int, dict[int, int]]:
    """{audit arch: {libseccomp token: highest call number the profile names}}."""
    tokens = {lib.seccomp_arch_native()}
    for arch in profile.get("architectures") or []:
        tokens.add(lib.seccomp_arch_resolve_name(arch[len("SCMP_ARCH_"):].lower().encode()))
    names = {n.encode() for rule in profile.get("syscalls") or [] for n in rule["names"]}
    out: dict[int, dict[int, int]] = {}
    for token in tokens - {0}:
        top = max((lib.seccomp_syscall_resolve_name_arch(token, n) for n in names), default=0)
        if top > 0:  # negative numbers are libseccomp's pseudo-calls
            audit = _AUDIT_X86_64 if token == _TOKEN_X32 else token
            out.setdefault(audit, {})[token] = top
    return out


def enosys_stub(lib: ctypes.CDLL, profile: dict[str, Any]) -> list[tuple[int, int, int, int]]:
    """The instructions to run before the filter; none for a permissive default."""
    if profile["defaultAction"] in _PERMISSIVE or profile.get("defaultErrnoRet") == errno.ENOSYS:
        return []
    last = _last_syscalls(lib, profile)
    if not last:
        return []
    # (code, jump-if-true label or None, k); labels become offsets below.
    code: list[tuple[int, str | None, int]] = [(_LD_W_ABS, None, _ARCH)]
    code += [(_JEQ, f"arch{audit}", audit) for audit in last]
    code.append((_JA, "filter", 0))
    labels: dict[str, int] = {}
    for audit, tops in last.items():
        labels[f"arch{audit}"] = len(code)
        code.append((_LD_W_ABS, None, _NR))
        if audit in _S390:
            code.append((_JEQ, "enosys", 0))
        native = tops.get(audit)
        x32 = tops.get(_TOKEN_X32) if audit == _AUDIT_X86_64 else None
        if audit == _AUDIT_X86_64:
            # Calls of the mode the profile does not list go to the filter as they are.
            code.append((_JSET, f"x32-{audit}" if x32 else "filter", _X32_BIT))
        if native:
            code += [(_JGT, "enosys", native), (_JA, "filter", 0)]
        else:
            code.append((_JA, "filter", 0))
        if x32:
            labels[f"x32-{audit}"] = len(code)
            code += [(_JGT, "enosys", x32), (_JA, "filter", 0)]
    labels["enosys"] = len(code)
    code.append((_RET, None, _RET_ENOSYS))
    labels["filter"] = len(code)
    out = []
    for i, (op, label, k) in enumerate(code):
        if op == _JA:
            out.append((op, 0, 0, labels[label] - i - 1))
        elif label is not None:
            out.append((op, labels[label] - i - 1, 0, k))
        else:
            out.append((op, 0, 0, k))
    return out


def export(lib: ctypes.CDLL, ctx: int) -> list[tuple[int, int, int, int]]:
    """libseccomp's program for a filter context, as (code, jt, jf, k) instructions."""
    fd = os.memfd_create("seccomp", os.MFD_CLOEXEC)
    try:
        rc = lib.seccomp_export_bpf(ctx, fd)
        if rc < 0:
            raise OSError(-rc, f"seccomp_export_bpf: {os.strerror(-rc)}")
        size = os.lseek(fd, 0, os.SEEK_END)
        raw = os.pread(fd, size, 0)
    finally:
        os.close(fd)
    return list(struct.iter_unpack("=HBBI", raw))


class _Fprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def pack(program: list[tuple[int, int, int, int]]) -> bytes:
    """The program as the kernel reads it (struct sock_filter after struct sock_filter)."""
    return b"".join(struct.pack("=HBBI", *insn) for insn in program)


_syscall: tuple[ctypes.CDLL, int] | None = None


def prepare(lib: ctypes.CDLL) -> None:
    """What install needs besides the program, found before a fork (kept by the
    supervisor): the C library's syscall() and seccomp's number."""
    global _syscall
    if _syscall is None:
        _syscall = ctypes.CDLL(None, use_errno=True), lib.seccomp_syscall_resolve_name(b"seccomp")


def install(lib: ctypes.CDLL, program: list[tuple[int, int, int, int]],
            flags: list[str]) -> None:
    """seccomp(SECCOMP_SET_MODE_FILTER) on the calling thread (and its threads with TSYNC)."""
    install_packed(lib, pack(program), flags)


def install_packed(lib: ctypes.CDLL, raw: bytes, flags: list[str]) -> None:
    """install() of a program already packed."""
    prepare(lib)
    assert _syscall is not None
    libc, nr = _syscall
    buf = ctypes.create_string_buffer(raw, len(raw))
    prog = _Fprog(len(raw) // 8, ctypes.addressof(buf))
    bits = 0
    for flag in flags:
        bits |= FLAGS[flag]
    rc = libc.syscall(ctypes.c_long(nr), ctypes.c_ulong(1), ctypes.c_ulong(bits),
                      ctypes.byref(prog))
    if rc < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"seccomp: loading the filter: {os.strerror(err)}")
