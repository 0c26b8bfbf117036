"""Docker-format seccomp profiles, resolved into the OCI spec's linux.seccomp.

Docker's profile format (moby's profiles/seccomp) adds to the OCI one an archMap and, per
rule, includes/excludes by capability, architecture and kernel version. Docker resolves
it once per container: for the host's architecture, the container's bounding set and the
running kernel. This module does the same, rule by rule, so that a container of darse's
is refused exactly the calls a container of Docker's is.
"""

from __future__ import annotations

import os
import re

from darse.errors import InvalidArgument

TYPE_CHECKING = False  # typing costs milliseconds at every container start
if TYPE_CHECKING:
    from typing import Any

# The machine's name in Go's terms (GOARCH mapped the way moby maps it), which is how
# profiles name architectures in includes/excludes, and the SCMP_ARCH_ of its archMap.
_NATIVE = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64", "i386": "x86",
           "i686": "x86", "armv6l": "arm", "armv7l": "arm", "armv8l": "arm",
           "ppc64le": "ppc64le", "ppc64": "ppc64", "s390x": "s390x", "mips64": "mips64",
           "riscv64": "riscv64"}
_SCMP_ARCH = {"x86": "SCMP_ARCH_X86", "amd64": "SCMP_ARCH_X86_64", "arm": "SCMP_ARCH_ARM",
              "arm64": "SCMP_ARCH_AARCH64", "mips64": "SCMP_ARCH_MIPS64",
              "ppc64": "SCMP_ARCH_PPC64", "ppc64le": "SCMP_ARCH_PPC64LE",
              "s390x": "SCMP_ARCH_S390X", "riscv64": "SCMP_ARCH_RISCV64"}


def native_arch() -> str:
    machine = os.uname().machine
    return _NATIVE.get(machine, machine)


def _version(text: str, what: str) -> tuple[int, int]:
    match = re.match(r"(\d+)\.(\d+)", text)
    if not match:
        raise InvalidArgument(f'invalid kernel version: "{text}", expected "<kernel>.<major>"'
                              if what == "profile" else
                              f"failed to parse kernel version {text!r}")
    return int(match[1]), int(match[2])


def _kernel_at_least(minimum: str) -> bool:
    """Only the version and major revision count: 5.10.25-foo is 5.10."""
    if not re.fullmatch(r"\d+\.\d+", minimum):
        raise InvalidArgument(f'invalid kernel version: "{minimum}", expected '
                              '"<kernel>.<major>"')
    return _version(os.uname().release, "kernel") >= _version(minimum, "profile")


def _applies(rule: dict[str, Any], arch: str, caps: set[str]) -> bool:
    inc, exc = rule.get("includes") or {}, rule.get("excludes") or {}
    if arch in (exc.get("arches") or []):
        return False
    if caps & set(exc.get("caps") or []):
        return False
    if exc.get("minKernel") and _kernel_at_least(exc["minKernel"]):
        return False
    if inc.get("arches") and arch not in inc["arches"]:
        return False
    if not set(inc.get("caps") or []) <= caps:
        return False
    return not (inc.get("minKernel") and not _kernel_at_least(inc["minKernel"]))


def resolve(profile: dict[str, Any], bounding: list[str]) -> dict[str, Any] | None:
    """linux.seccomp for a container with this bounding set on this host; None when the
    profile disables seccomp (no default action and no rules, as Docker reads it)."""
    if not isinstance(profile, dict):
        raise InvalidArgument("Decoding seccomp profile failed: not a JSON object")
    if not profile.get("defaultAction") and not profile.get("syscalls"):
        return None
    if profile.get("architectures") and profile.get("archMap"):
        raise InvalidArgument("'architectures' and 'archMap' were specified in the seccomp "
                              "profile, use either 'architectures' or 'archMap'")
    arch = native_arch()
    out: dict[str, Any] = {"defaultAction": profile["defaultAction"]}
    # Docker since 23.0 passes these on as they are (20.10 dropped them).
    for key in ("defaultErrnoRet", "flags", "listenerPath", "listenerMetadata"):
        if profile.get(key) is not None:
            out[key] = profile[key]
    arches = list(profile.get("architectures") or [])
    for entry in profile.get("archMap") or []:
        if entry.get("architecture") == _SCMP_ARCH.get(arch):
            arches += [entry["architecture"], *(entry.get("subArchitectures") or [])]
            break
    if arches:
        out["architectures"] = arches
    caps = set(bounding)
    out["syscalls"] = []
    for rule in profile.get("syscalls") or []:
        if not _applies(rule, arch, caps):
            continue
        if rule.get("name") and rule.get("names"):
            raise InvalidArgument("'name' and 'names' were specified in the seccomp profile, "
                                  "use either 'name' or 'names'")
        converted: dict[str, Any] = {
            "names": [rule["name"]] if rule.get("name") else list(rule.get("names") or []),
            "action": rule["action"]}
        if rule.get("errnoRet") is not None:
            converted["errnoRet"] = rule["errnoRet"]
        if rule.get("args"):
            converted["args"] = rule["args"]
        out["syscalls"].append(converted)
    return out
