"""linux.resources.devices rules, shared by the v1 files and the v2 BPF program."""

from __future__ import annotations

# What every container may do whatever its config says (runc's AllowedDevices, which
# Docker relies on): make any node (mknod is "m"; opening it is "r"/"w"), and use the
# nodes the runtime itself creates, ptys and the tun device.
DEFAULT_ALLOWED = [
    {"allow": True, "type": "c", "major": -1, "minor": -1, "access": "m"},
    {"allow": True, "type": "b", "major": -1, "minor": -1, "access": "m"},
    *({"allow": True, "type": "c", "major": major, "minor": minor, "access": "rwm"}
      for major, minor in ((1, 3), (1, 8), (1, 7), (5, 0), (5, 1), (1, 5), (1, 9), (136, -1),
                           (5, 2), (10, 200))),
]


def with_defaults(rules: list[dict]) -> list[dict]:
    """The spec's rules then the defaults (later rules win); none at all means no filter."""
    return [*rules, *DEFAULT_ALLOWED] if rules else []


def v1_rule(dev: dict) -> str:
    """'c 1:3 rwm' as devices.allow and devices.deny take it."""
    kind = dev.get("type") or "a"
    if kind == "a":
        return "a"
    major = "*" if dev.get("major") in (None, -1) else dev["major"]
    minor = "*" if dev.get("minor") in (None, -1) else dev["minor"]
    return f"{kind} {major}:{minor} {dev.get('access') or 'rwm'}"
