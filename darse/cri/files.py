"""A pod's /etc/resolv.conf, /etc/hostname and /etc/hosts, in its sandbox folder: every
container of the pod binds the same three files."""

from __future__ import annotations

import os
import shutil
from typing import Any

HOSTS = ("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
         "fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\n"
         "ff02::2\tip6-allrouters\n")


def resolv_conf(dns: dict[str, Any]) -> str:
    """From the pod's DNSConfig; empty when it says nothing (the host's is used then)."""
    lines = [f"nameserver {s}" for s in dns.get("servers") or []]
    if dns.get("searches"):
        lines.append("search " + " ".join(dns["searches"]))
    if dns.get("options"):
        lines.append("options " + " ".join(dns["options"]))
    return "".join(line + "\n" for line in lines)


def write(folder: str, hostname: str, dns: dict[str, Any], host_network: bool) -> None:
    os.makedirs(folder, mode=0o711, exist_ok=True)
    content = resolv_conf(dns)
    if content:
        _write(os.path.join(folder, "resolv.conf"), content)
    else:
        shutil.copyfile("/etc/resolv.conf", os.path.join(folder, "resolv.conf"))
    _write(os.path.join(folder, "hostname"), hostname + "\n")
    if host_network:
        shutil.copyfile("/etc/hosts", os.path.join(folder, "hosts"))
    else:
        _write(os.path.join(folder, "hosts"), HOSTS)


def _write(path: str, content: str) -> None:
    with open(path, "w") as f:
        f.write(content)
    os.chmod(path, 0o644)
