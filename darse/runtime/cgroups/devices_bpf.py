"""Device rules on cgroup v2: a BPF_PROG_TYPE_CGROUP_DEVICE program per container.

cgroup v2 has no devices.allow file: the kernel asks an eBPF program attached to the
cgroup instead. The program checks the rules from the last to the first, so that a
later rule overrides an earlier one as on v1, and allows what no rule matches (v1's
default too; the spec's rules start with a deny-all).
"""

from __future__ import annotations

import ctypes
import os
import struct

from darse.errors import SystemFailure

_BPF_NR = 280 if os.uname().machine in ("aarch64", "arm64") else 321
_BPF_PROG_LOAD, _BPF_PROG_ATTACH = 5, 8
_PROG_TYPE_CGROUP_DEVICE = 15
_ATTACH_CGROUP_DEVICE = 6
_F_ALLOW_MULTI = 2

_TYPES = {"c": 2, "b": 1}  # BPF_DEVCG_DEV_CHAR, BPF_DEVCG_DEV_BLOCK
_ACCESS = {"m": 1, "r": 2, "w": 4}  # BPF_DEVCG_ACC_MKNOD, _READ, _WRITE

# Opcodes (linux/bpf_common.h, linux/bpf.h).
_LDXW = 0x61  # BPF_LDX | BPF_MEM | BPF_W
_AND32_K = 0x54  # BPF_ALU | BPF_AND | BPF_K
_RSH32_K = 0x74  # BPF_ALU | BPF_RSH | BPF_K
_MOV32_X = 0xBC  # BPF_ALU | BPF_MOV | BPF_X
_MOV64_K = 0xB7  # BPF_ALU64 | BPF_MOV | BPF_K
_JNE_K = 0x55  # BPF_JMP | BPF_JNE | BPF_K
_EXIT = 0x95  # BPF_JMP | BPF_EXIT

_libc = ctypes.CDLL(None, use_errno=True)


def _insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", code, dst | src << 4, off, imm)


_NEXT = object()  # a jump to the first instruction after the rule's block


def _rule_block(rule: dict) -> list[tuple]:
    """(code, dst, src, imm, jump) per instruction of one rule."""
    body: list[tuple] = []
    kind = rule.get("type") or "a"
    if kind != "a":
        body.append((_JNE_K, 2, 0, _TYPES[kind], _NEXT))
    access = sum(_ACCESS[c] for c in set(rule.get("access") or "rwm"))
    if access != 7:  # the access asked for must be within the rule's
        body += [(_MOV32_X, 1, 3, 0, None), (_AND32_K, 1, 0, ~access & 7, None),
                 (_JNE_K, 1, 0, 0, _NEXT)]
    for reg, key in ((4, "major"), (5, "minor")):
        value = rule.get(key)
        if value is not None and value != -1:
            body.append((_JNE_K, reg, 0, value, _NEXT))
    body += [(_MOV64_K, 0, 0, 1 if rule.get("allow") else 0, None), (_EXIT, 0, 0, 0, None)]
    return body


def program(rules: list[dict]) -> bytes:
    """The BPF program for the spec's linux.resources.devices (plus defaults)."""
    out = [
        _insn(_LDXW, 2, 1, 0), _insn(_AND32_K, 2, imm=0xFFFF),  # r2 = type
        _insn(_LDXW, 3, 1, 0), _insn(_RSH32_K, 3, imm=16),  # r3 = access
        _insn(_LDXW, 4, 1, 4), _insn(_LDXW, 5, 1, 8),  # r4 = major, r5 = minor
    ]
    for rule in reversed(rules):
        block = _rule_block(rule)
        for i, (code, dst, src, imm, jump) in enumerate(block):
            off = len(block) - i - 1 if jump is _NEXT else 0
            out.append(_insn(code, dst, src, off, imm))
        if not any(jump is _NEXT for *_, jump in block):
            # A rule for every device ends the program: the verifier refuses dead code.
            return b"".join(out)
    out += [_insn(_MOV64_K, 0, imm=1), _insn(_EXIT)]
    return b"".join(out)


def _bpf(cmd: int, attr: bytes) -> int:
    buf = ctypes.create_string_buffer(attr, 128)
    fd = _libc.syscall(ctypes.c_long(_BPF_NR), ctypes.c_int(cmd), buf, ctypes.c_uint(128))
    if fd < 0:
        err = ctypes.get_errno()
        raise SystemFailure(f"cgroups: bpf() for device rules failed: {os.strerror(err)}")
    return fd


def attach(cgroup_dir: str, rules: list[dict]) -> None:
    """Load the program and attach it to the cgroup (it stays while the cgroup exists)."""
    code = program(rules)
    insns = ctypes.create_string_buffer(code, len(code))
    license = ctypes.create_string_buffer(b"Apache-2.0")
    attr = struct.pack("IIQQIIQII16s", _PROG_TYPE_CGROUP_DEVICE, len(code) // 8,
                       ctypes.addressof(insns), ctypes.addressof(license), 0, 0, 0, 0, 0,
                       b"darse_devices")
    prog = _bpf(_BPF_PROG_LOAD, attr)
    try:
        target = os.open(cgroup_dir, os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
        try:
            _bpf(_BPF_PROG_ATTACH, struct.pack("IIIII", target, prog, _ATTACH_CGROUP_DEVICE,
                                               _F_ALLOW_MULTI, 0))
        finally:
            os.close(target)
    finally:
        os.close(prog)
