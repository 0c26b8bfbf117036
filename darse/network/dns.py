"""The embedded DNS of user-defined networks (Docker's 127.0.0.11).

For each container on a user-defined network, a UDP socket bound to 127.0.0.11:53 is
made inside its network namespace (from a thread that entered it) and served by one
daemon thread. A container's name, aliases and short id answer on the networks it
shares with the asker (`name` and `name.network`); everything else is forwarded to the
host's resolvers. Containers on the default bridge get none of this, as in Docker."""

from __future__ import annotations

import ipaddress
import os
import selectors
import socket
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset

from darse import syscalls
from darse.network import netns

ADDRESS = "127.0.0.11"
# (asker container id, name) -> IPv4 address or None; (asker, address) -> name or None;
# for AAAA, (asker, name) -> IPv6 address, "" (a known name without one) or None
Lookup = Callable[[str, str], "str | None"]


def _upstreams() -> list[str]:
    servers = []
    try:
        with open("/etc/resolv.conf") as f:
            for line in f:
                words = line.split()
                if len(words) > 1 and words[0] == "nameserver":
                    servers.append(words[1])
    except OSError:
        pass
    return servers or ["8.8.8.8"]


def _reverse_name(name: str) -> str | None:
    """The address a PTR question names (in-addr.arpa, or ip6.arpa's 32 nibbles)."""
    if name.endswith(".in-addr.arpa"):
        return ".".join(reversed(name[:-len(".in-addr.arpa")].split(".")))
    if name.endswith(".ip6.arpa"):
        nibbles = name[:-len(".ip6.arpa")].split(".")
        if len(nibbles) != 32 or not all(len(n) == 1 for n in nibbles):
            return None
        try:
            return str(ipaddress.IPv6Address(int("".join(reversed(nibbles)), 16)))
        except ValueError:
            return None
    return None


class Resolver:
    def __init__(self, lookup: Lookup, reverse: Lookup | None = None,
                 lookup6: Lookup | None = None) -> None:
        self.lookup = lookup
        self.reverse = reverse or (lambda _asker, _ip: None)
        self.lookup6 = lookup6 or (lambda _asker, _name: None)
        self.selector = selectors.DefaultSelector()
        self.socks: dict[str, socket.socket] = {}
        self.lock = threading.Lock()
        self.pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="dns-forward")
        self.wake_r, self.wake_w = os.pipe()
        self.selector.register(self.wake_r, selectors.EVENT_READ, None)
        threading.Thread(target=self._serve, daemon=True, name="dns").start()

    def register(self, container_id: str, netns_path: str) -> None:
        fd = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            def bind() -> socket.socket:
                syscalls.setns(fd, syscalls.CLONE_NEWNET)
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.bind((ADDRESS, 53))
                return s

            sock = netns.in_thread(bind)
        finally:
            os.close(fd)
        with self.lock:
            self.socks[container_id] = sock
            self.selector.register(sock, selectors.EVENT_READ, container_id)
        os.write(self.wake_w, b"x")

    def unregister(self, container_id: str) -> None:
        with self.lock:
            sock = self.socks.pop(container_id, None)
            if sock is not None:
                self.selector.unregister(sock)
                sock.close()

    def _serve(self) -> None:
        while True:
            for key, _ in self.selector.select():
                if key.data is None:
                    os.read(self.wake_r, 512)
                    continue
                try:
                    data, peer = key.fileobj.recvfrom(4096)
                except OSError:
                    continue
                self._answer(key.data, key.fileobj, data, peer)

    def _answer(self, container_id: str, sock: socket.socket, data: bytes,
                peer: tuple[str, int]) -> None:
        try:
            query = dns.message.from_wire(data)
        except Exception:  # noqa: BLE001 - a malformed packet gets no answer
            return
        if query.question:
            q = query.question[0]
            name = q.name.to_text().rstrip(".").lower()
            address = _reverse_name(name) if q.rdtype == dns.rdatatype.PTR else None
            if address:
                target = self.reverse(container_id, address)
                if target is not None:
                    resp = dns.message.make_response(query)
                    resp.answer.append(dns.rrset.from_text(q.name, 600, "IN", "PTR",
                                                           target + "."))
                    self._send(sock, resp.to_wire(), peer)
                    return
            ip = self.lookup(container_id, name)
            if ip is not None:
                resp = dns.message.make_response(query)
                if q.rdtype == dns.rdatatype.A:
                    resp.answer.append(dns.rrset.from_text(q.name, 600, "IN", "A", ip))
                elif q.rdtype == dns.rdatatype.AAAA:
                    # a name of the networks: its IPv6 address, or no answer (NOERROR)
                    ip6 = self.lookup6(container_id, name)
                    if ip6:
                        resp.answer.append(dns.rrset.from_text(q.name, 600, "IN", "AAAA",
                                                               ip6))
                self._send(sock, resp.to_wire(), peer)
                return
        self.pool.submit(self._forward, sock, query, data, peer)

    def _forward(self, sock: socket.socket, query: dns.message.Message, data: bytes,
                 peer: tuple[str, int]) -> None:
        for server in _upstreams():
            try:
                resp = dns.query.udp(query, server, timeout=3)
                self._send(sock, resp.to_wire(), peer)
                return
            except Exception:  # noqa: BLE001 - try the next resolver
                continue
        fail = dns.message.make_response(query)
        fail.set_rcode(dns.rcode.SERVFAIL)
        self._send(sock, fail.to_wire(), peer)

    @staticmethod
    def _send(sock: socket.socket, wire: bytes, peer: tuple[str, int]) -> None:
        try:
            sock.sendto(wire, peer)
        except OSError:
            pass
