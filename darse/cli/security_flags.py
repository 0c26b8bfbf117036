"""run/create's --device, --device-cgroup-rule and --sysctl, checked and turned into
HostConfig as the docker CLI does it before it talks to the daemon, with its words.

The daemon checks again (an API client may send anything); these are the refusals a
docker user gets from the command line itself.
"""

from __future__ import annotations

# The docker CLI's list: sysctls of namespaces a container may own (opts.ValidateSysctl).
_IPC_SYSCTLS = {"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
                "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"}
_SYSCTL_PREFIXES = ("net.", "fs.mqueue.")
# Matched only when the flag is given: importing re costs 3 ms of every `darse run`.
_CGROUP_RULE = r"^[acb] ([0-9]+|\*):([0-9]+|\*) [rwm]{1,3}$"


class FlagValueError(ValueError):
    """A flag's value the docker CLI refuses; the message is the docker CLI's."""


def _valid_mode(mode: str) -> bool:
    return bool(mode) and set(mode) <= set("rwm") and len(set(mode)) == len(mode)


def _checked_device(text: str) -> str:
    """[host:]container[:mode] checked (validateLinuxPath), the container path cleaned."""
    import posixpath  # 1.5 ms (it imports os): only for a --device

    if text.count(":") > 2 or not text.split(":", 1)[0]:
        raise FlagValueError(f"bad format for path: {text}")
    parts = text.split(":")
    if len(parts) == 1:
        inside = parts[0]
        text = posixpath.normpath(inside)
    elif len(parts) == 2:
        if _valid_mode(parts[1]):
            inside = parts[0]
            text = f"{posixpath.normpath(inside)}:{parts[1]}"
        else:
            inside = parts[1]
            text = f"{parts[0]}:{posixpath.normpath(inside)}"
    else:
        inside, mode = parts[1], parts[2]
        if not _valid_mode(mode):
            raise FlagValueError(f"bad mode specified: {mode}")
    if not inside.startswith("/"):
        raise FlagValueError(f"{inside} is not an absolute path")
    return text


def device(text: str) -> dict[str, str]:
    """--device HOST[:CONTAINER][:PERMISSIONS] as a HostConfig.Devices entry."""
    parts = _checked_device(text).split(":")
    host, inside, access = parts[0], "", "rwm"
    if len(parts) == 3:
        access = parts[2]
    if len(parts) >= 2:
        if _valid_mode(parts[1]):
            access = parts[1]
        else:
            inside = parts[1]
    return {"PathOnHost": host, "PathInContainer": inside or host, "CgroupPermissions": access}


def cgroup_rule(text: str) -> str:
    import re

    if not re.match(_CGROUP_RULE, text):
        raise FlagValueError(f'invalid argument "{text}" for "--device-cgroup-rule" flag: '
                             f"invalid device cgroup format '{text}'")
    return text


def sysctl(text: str) -> tuple[str, str]:
    key, eq, value = text.partition("=")
    if not eq or not (key in _IPC_SYSCTLS or key.startswith(_SYSCTL_PREFIXES)):
        raise FlagValueError(f'invalid argument "{text}" for "--sysctl" flag: '
                             f"sysctl '{text}' is not whitelisted")  # docker 20.10's word
    return key, value


def host_config(devices: list[str], rules: list[str], sysctls: list[str]) -> dict:
    """The HostConfig keys of these flags."""
    return {"Devices": [device(d) for d in devices],
            "DeviceCgroupRules": [cgroup_rule(r) for r in rules],
            "Sysctls": dict(sysctl(s) for s in sysctls)}


def security_opts(opts: list[str]) -> list[str]:
    """--security-opt as the docker CLI passes it: key=value (or the older key:value, or
    no-new-privileges alone), and seccomp=FILE read here and sent as its JSON."""
    out = []
    for opt in opts:
        key, sep, value = opt.partition("=")
        if not sep and opt != "no-new-privileges":
            if ":" not in opt:
                raise FlagValueError(f'Invalid --security-opt: "{opt}"')
            key, _, value = opt.partition(":")
        if key == "seccomp" and value != "unconfined":
            import json  # 10 ms (re, enum): only for a profile to read

            try:
                with open(value, "rb") as f:
                    profile = json.loads(f.read())
            except OSError as exc:
                raise FlagValueError(f"opening seccomp profile ({value}) failed: open {value}: "
                                     f"{exc.strerror[:1].lower()}{exc.strerror[1:]}") from None
            except ValueError as exc:
                raise FlagValueError(f"compacting json for seccomp profile ({value}) failed: "
                                     f"{exc}") from None
            opt = "seccomp=" + json.dumps(profile, separators=(",", ":"))
        out.append(opt)
    return out
