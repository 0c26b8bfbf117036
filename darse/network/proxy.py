"""darsed's userland proxy: the published ports of an IPv6 host address, each a socket
listening there, as dockerd's docker-proxy listens on it. darse's ports are the
kernel's DNAT (darse.network.nftables), which cannot turn IPv6 into IPv4 nor carry a
::1 source out of lo (IPv6 has no route_localnet): the socket carries what the DNAT
leaves to it, [::1]:PORT into an IPv6 container, and every address of an IPv6 binding
into a container with only an IPv4 address (dockerd 20.10 binds [::]:PORT beside
0.0.0.0:PORT for it). The socket also holds the port as docker-proxy's does: someone
else's listener there refuses the start in dockerd's words."""

from __future__ import annotations

import errno
import socket
import threading
import time

from darse.errors import SystemFailure

LOOPBACK = "::1"
# docker-proxy's: a UDP client's flow is forgotten after 90 s without a reply, and a
# datagram is at most what an IPv4 UDP payload can be
UDP_IDLE = 90.0
UDP_BUFFER = 65507

_listenable: bool | None = None
_listenable_lock = threading.Lock()


def v6_listenable() -> bool:
    """Whether the host has IPv6, asked as dockerd 20.10 asks it before binding [::]
    beside 0.0.0.0: can a TCP socket listen on [::1]:0 (no when IPv6 is off on lo or
    all, or the kernel booted with ipv6.disable=1). Asked once, as dockerd does."""
    global _listenable
    with _listenable_lock:
        if _listenable is None:
            _listenable = listenable_here()
        return _listenable


def listenable_here() -> bool:
    """The question itself, in the calling thread's network namespace."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind((LOOPBACK, 0))
            s.listen(1)
    except OSError:
        return False
    return True


class Proxy:
    """host_ip:port (an IPv6 address, "::" for all of them), each TCP connection or
    UDP client carried to target:target_port (IPv4 or IPv6) by threads of its own."""

    def __init__(self, proto: str, host_ip: str, port: int, target: str,
                 target_port: int) -> None:
        self.proto, self.host_ip, self.port = proto, host_ip, port
        self.target, self.target_port = target, target_port
        self.lock = threading.Lock()
        self.conns: set[socket.socket] = set()
        self.flows: dict[tuple, socket.socket] = {}  # UDP: client address -> its socket
        self.closed = False
        kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
        sock = socket.socket(socket.AF_INET6, kind)
        try:
            # IPv6 only ([::] beside someone's 0.0.0.0 is not the same port), as Go's
            _bind(sock, proto, host_ip, port)
            if proto == "tcp":
                sock.listen(128)
        except BaseException:
            sock.close()
            raise
        self.sock = sock
        loop = self._accept if proto == "tcp" else self._datagrams
        self.thread = threading.Thread(target=loop, daemon=True, name=f"proxy-{proto}-{port}")
        self.thread.start()

    # --- TCP ----------------------------------------------------------------------------

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                if self.closed:
                    return
                time.sleep(0.05)  # (out of descriptors, a connection reset early)
                continue
            threading.Thread(target=self._carry, args=(client,), daemon=True,
                             name=f"proxy-conn-{self.port}").start()

    def _carry(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection((self.target, self.target_port), timeout=5)
        except OSError:
            client.close()  # as docker-proxy: the client sees its connection closed
            return
        upstream.settimeout(None)
        if not self._hold(client, upstream):
            return
        back = threading.Thread(target=_pump, args=(upstream, client), daemon=True,
                                name=f"proxy-back-{self.port}")
        back.start()
        _pump(client, upstream)
        back.join()
        self._drop(client, upstream)

    # --- UDP ----------------------------------------------------------------------------

    def _datagrams(self) -> None:
        while True:
            try:
                data, client = self.sock.recvfrom(UDP_BUFFER)
            except OSError:
                data, client = b"", None
            if self.closed:
                return
            if client is None:
                continue
            with self.lock:
                upstream = self.flows.get(client)
            if upstream is None:
                upstream = self._flow(client)
                if upstream is None:
                    continue
            try:
                upstream.send(data)
            except OSError:
                pass  # (the container not listening yet: its ICMP refusal, as a lost datagram)

    def _flow(self, client: tuple) -> socket.socket | None:
        """A client's own socket to the container, whose replies go back to it."""
        family = socket.AF_INET6 if ":" in self.target else socket.AF_INET
        upstream = socket.socket(family, socket.SOCK_DGRAM)
        try:
            upstream.connect((self.target, self.target_port))
        except OSError:
            upstream.close()
            return None
        upstream.settimeout(UDP_IDLE)
        if not self._hold(upstream):
            return None
        with self.lock:
            self.flows[client] = upstream
        threading.Thread(target=self._replies, args=(client, upstream), daemon=True,
                         name=f"proxy-udp-{self.port}").start()
        return upstream

    def _replies(self, client: tuple, upstream: socket.socket) -> None:
        while True:
            try:
                data = upstream.recv(UDP_BUFFER)
            except ConnectionRefusedError:
                continue  # nobody there yet: the flow lasts its idle time, as docker-proxy's
            except OSError:  # idle for UDP_IDLE, or closed with the proxy
                break
            if self.closed:
                break
            try:
                self.sock.sendto(data, client)
            except OSError:
                pass
        with self.lock:
            if self.flows.get(client) is upstream:
                del self.flows[client]
        self._drop(upstream)

    # --- both ---------------------------------------------------------------------------

    def _hold(self, *socks: socket.socket) -> bool:
        """Count sockets as the proxy's (close() cuts them); False, and closed, if the
        proxy closed meanwhile."""
        with self.lock:
            if not self.closed:
                self.conns.update(socks)
                return True
        for s in socks:
            s.close()
        return False

    def _drop(self, *socks: socket.socket) -> None:
        with self.lock:
            self.conns.difference_update(socks)
        for s in socks:
            s.close()

    def close(self) -> None:
        """No more connections, and those open are cut (the container is gone); the
        proxy's threads end."""
        with self.lock:
            if self.closed:
                return
            self.closed = True
            conns, self.conns = list(self.conns), set()
        for s in [self.sock, *conns]:
            try:
                s.shutdown(socket.SHUT_RDWR)  # wakes the threads blocked on it
            except OSError:
                pass  # (ENOTCONN of a UDP socket: woken all the same)
        self.thread.join(timeout=5)
        for s in [self.sock, *conns]:
            s.close()


def check_free(proto: str, host_ip: str, port: int) -> None:
    """An IPv4 binding, which the kernel's DNAT carries with no socket: refused as
    docker-proxy's listener on it would be (someone listens there, even on [::] for
    both families; an address the host does not have)."""
    if proto not in ("tcp", "udp"):
        return
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as sock:
        _bind(sock, proto, host_ip, port)


def _bind(sock: socket.socket, proto: str, host_ip: str, port: int) -> None:
    """Bound as Go binds docker-proxy's listeners (SO_REUSEADDR for TCP alone: a port
    left in TIME_WAIT is free, a UDP port held is not); its failure in dockerd's words."""
    family = "6" if sock.family == socket.AF_INET6 else "4"
    try:
        if proto == "tcp":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == "6":
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((host_ip, port))
    except OSError as exc:
        reason = "address already in use" if exc.errno == errno.EADDRINUSE else \
            (exc.strerror or str(exc)).lower()
        where = f"[{host_ip}]" if family == "6" else host_ip
        raise SystemFailure(f"Error starting userland proxy: listen {proto}{family} "
                            f"{where}:{port}: bind: {reason}") from None


def _pump(src: socket.socket, dst: socket.socket) -> None:
    """One direction, until its end closes; then that end's half is closed too."""
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    try:
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        pass
