"""process.capabilities: the five capability sets of the OCI spec.

Applied in the order runc uses, so that the process keeps what it needs while it
changes user: drop the bounding set, keep caps across setuid, then set the rest.
"""

from __future__ import annotations

from darse import syscalls
from darse.errors import InvalidArgument

NAMES = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
    "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
    "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
]
NUMBERS = {name: i for i, name in enumerate(NAMES)}
SETS = ("bounding", "effective", "inheritable", "permitted", "ambient")


def last_cap() -> int:
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            return int(f.read())
    except OSError:
        return len(NAMES) - 1


class CapSets:
    """Bit masks, one per set."""

    def __init__(self, bounding: int, effective: int, inheritable: int, permitted: int,
                 ambient: int) -> None:
        self.bounding, self.effective, self.inheritable = bounding, effective, inheritable
        self.permitted, self.ambient = permitted, ambient


def validate(caps: dict) -> None:
    for key, names in caps.items():
        if key not in SETS:
            raise InvalidArgument(f"process.capabilities: unknown set {key!r}")
        for name in names or []:
            if name not in NUMBERS:
                raise InvalidArgument(f"process.capabilities.{key}: unknown capability {name!r}")


def parse(caps: dict | None) -> CapSets | None:
    """Masks for the spec's sets; capabilities newer than this kernel are left out."""
    if caps is None:
        return None
    validate(caps)
    top = last_cap()

    def mask(key: str) -> int:
        bits = 0
        for name in caps.get(key) or []:
            n = NUMBERS[name]
            if n <= top:
                bits |= 1 << n
        return bits

    return CapSets(*(mask(k) for k in SETS))


def drop_bounding(sets: CapSets) -> None:
    for n in range(last_cap() + 1):
        if not sets.bounding & (1 << n):
            syscalls.prctl(syscalls.PR_CAPBSET_DROP, n)


def apply(sets: CapSets) -> None:
    """Set effective, permitted, inheritable, then ambient (which must fit in the others)."""
    syscalls.capset(sets.effective, sets.permitted, sets.inheritable)
    syscalls.prctl(syscalls.PR_CAP_AMBIENT, syscalls.PR_CAP_AMBIENT_CLEAR_ALL)
    for n in range(last_cap() + 1):
        if sets.ambient & (1 << n):
            try:
                syscalls.prctl(syscalls.PR_CAP_AMBIENT, syscalls.PR_CAP_AMBIENT_RAISE, n)
            except PermissionError:
                # as runc: an ambient capability outside the inheritable or permitted set
                # is passed over, the container still runs
                pass


def bounding_of_self() -> list[str]:
    """The capabilities still in this process's bounding set: all that a process it
    starts can hold (what a privileged container gets; a host may withhold some)."""
    out = []
    for n in range(min(last_cap(), len(NAMES) - 1) + 1):
        if syscalls.prctl(syscalls.PR_CAPBSET_READ, n) == 1:
            out.append(NAMES[n])
    return out
