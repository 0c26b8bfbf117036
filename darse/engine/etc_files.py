"""/etc/hostname, /etc/hosts and /etc/resolv.conf of a container, written in its
directory and bound into it (as Docker does)."""

from __future__ import annotations

import os

HOST_RESOLV = "/etc/resolv.conf"
FALLBACK_DNS = ["8.8.8.8", "8.8.4.4"]


def _host_resolv() -> tuple[list[str], list[str], list[str]]:
    servers, search, options = [], [], []
    try:
        with open(HOST_RESOLV) as f:
            for line in f:
                words = line.split()
                if not words or words[0].startswith(("#", ";")):
                    continue
                if words[0] == "nameserver" and len(words) > 1:
                    servers.append(words[1])
                elif words[0] == "search":
                    search = words[1:]
                elif words[0] == "options":
                    options += words[1:]
    except FileNotFoundError:
        pass
    return servers, search, options


def resolv_conf(dns: list[str], search: list[str], options: list[str],
                host_network: bool) -> str:
    """--dns and friends win; else the host's servers, minus loopback ones a container
    (in its own network namespace) cannot reach, with Docker's fallback."""
    h_servers, h_search, h_options = _host_resolv()
    servers = dns or [s for s in h_servers if host_network or not (
        s.startswith("127.") or s == "::1")]
    if not servers:
        servers = FALLBACK_DNS
    lines = [f"nameserver {s}" for s in servers]
    if search or h_search:
        lines.append("search " + " ".join(search or h_search))
    if options or h_options:
        lines.append("options " + " ".join(options or h_options))
    return "\n".join(lines) + "\n"


def hosts(hostname: str, domainname: str, extra: list[str], address: str = "") -> str:
    lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback",
             "fe00::0\tip6-localnet", "ff00::0\tip6-mcastprefix", "ff02::1\tip6-allnodes",
             "ff02::2\tip6-allrouters"]
    for entry in extra:
        host, _, ip = entry.partition(":")
        lines.append(f"{ip}\t{host}")
    if address:
        fqdn = f"{hostname}.{domainname}\t{hostname}" if domainname else hostname
        lines.append(f"{address}\t{fqdn}")
    return "\n".join(lines) + "\n"


def write(container_dir: str, name: str, content: str) -> str:
    path = os.path.join(container_dir, name)
    with open(path, "w") as f:
        f.write(content)
    return path
