"""System calls by number from inside a container, and the errno each one returns.

busybox cannot make an arbitrary system call; the host's perl can (perl-base is part of
every Debian system). The host's /usr is bound read-only on the container's /home (an
empty directory of the busybox image) and perl is run through the host's dynamic loader,
so the image needs nothing of its own.
"""

from __future__ import annotations

import os
import struct

from darse.runtime import seccomp

PERL = "/usr/bin/perl"
MOUNT_POINT = "/home"
_SCRIPT = ('for (@ARGV) { my ($n, $nr, @a) = split /,/; $! = 0; '
           'my $r = syscall($nr, map { $_ + 0 } @a); '
           'print "$n=", ($r == -1 ? $! + 0 : 0), "\\n" }')


def _interpreter(path: str) -> str:
    """PT_INTERP of a 64-bit little-endian ELF executable."""
    with open(path, "rb") as f:
        data = f.read(8192)
    phoff = struct.unpack_from("<Q", data, 0x20)[0]
    size, count = struct.unpack_from("<HH", data, 0x36)
    for i in range(count):
        kind, _, offset, _, _, filesz = struct.unpack_from("<IIQQQQ", data, phoff + i * size)
        if kind == 3:
            return data[offset:offset + filesz].rstrip(b"\0").decode()
    raise RuntimeError(f"{path} has no program interpreter")


def _inside(host_path: str) -> str:
    real = os.path.realpath(host_path)
    assert real.startswith("/usr/"), f"{real} is not under /usr"
    return MOUNT_POINT + real[len("/usr"):]


def number(name: str) -> int:
    nr = seccomp._libseccomp().seccomp_syscall_resolve_name(name.encode())
    assert nr >= 0, f"libseccomp does not know {name}"
    return nr


def argv(calls: dict[str, tuple[int, ...]]) -> list[str]:
    """The command that makes each call {label: (number, args...)} and prints label=errno
    (0 when it succeeded)."""
    loader = _inside(_interpreter(PERL))
    return [loader, "--library-path", os.path.dirname(loader), _inside(PERL), "-e", _SCRIPT,
            *(",".join([label, *map(str, call)]) for label, call in calls.items())]


def oci_mount() -> dict:
    return {"destination": MOUNT_POINT, "type": "bind", "source": "/usr",
            "options": ["rbind", "ro"]}


def docker_volume() -> list[str]:
    return ["-v", f"/usr:{MOUNT_POINT}:ro"]


def parse(output: str) -> dict[str, int]:
    return {k: int(v) for k, v in (line.split("=") for line in output.split())}
