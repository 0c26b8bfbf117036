"""darse-runtime features: what this runtime supports (the OCI features document)."""

from __future__ import annotations

import argparse
import json

from darse.runtime import capabilities, mounts, spec


def add(sub: argparse._SubParsersAction) -> None:
    sub.add_parser("features", help="show the features this runtime supports")


def document() -> dict:
    return {
        "ociVersionMin": "1.0.0",
        "ociVersionMax": spec.OCI_VERSION,
        "hooks": list(spec.HOOK_KINDS),
        "mountOptions": sorted([*mounts._FLAGS, *mounts.PROPAGATION]),
        "linux": {
            "namespaces": [n for n in spec.NAMESPACE_TYPES],
            "capabilities": capabilities.NAMES[:capabilities.last_cap() + 1],
            "cgroup": {"v1": True, "v2": True, "systemd": False, "systemdUser": False},
            "seccomp": {
                "enabled": True,
                "actions": ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL",
                            "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG",
                            "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"],
                "operators": ["SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE",
                              "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"],
                "archs": ["SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32",
                          "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"],
            },
            "apparmor": {"enabled": False},
            "selinux": {"enabled": False},
        },
        "annotations": {"org.darse.runtime": "darse-runtime"},
    }


def run(args: argparse.Namespace) -> int:
    print(json.dumps(document(), indent=4))
    return 0
