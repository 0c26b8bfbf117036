"""A userland proxy for the one published address the kernel cannot carry: [::1]:PORT
into a container's IPv6 address. IPv6 has no route_localnet: a packet with the ::1
source never leaves lo, masqueraded or not. dockerd's docker-proxy carries every
published port; darse's ports are the kernel's DNAT (darse.network.nftables), and this
proxy only takes over [::1] (TCP), which the ip6 table leaves to it."""

from __future__ import annotations

import socket
import threading

from darse.errors import SystemFailure

LOOPBACK = "::1"


class Proxy:
    """[::1]:port, each connection carried to target:target_port by its own threads."""

    def __init__(self, port: int, target: str, target_port: int) -> None:
        self.port, self.target, self.target_port = port, target, target_port
        self.lock = threading.Lock()
        self.conns: set[socket.socket] = set()
        self.closed = False
        sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        try:
            sock.bind((LOOPBACK, port))
            sock.listen(128)
        except OSError as exc:
            sock.close()
            reason = "address already in use" if exc.errno == 98 else \
                (exc.strerror or str(exc)).lower()
            # dockerd's words for the same failure of its docker-proxy
            raise SystemFailure(f"Error starting userland proxy: listen tcp6 "
                                f"[{LOOPBACK}]:{port}: bind: {reason}") from None
        self.sock = sock
        threading.Thread(target=self._accept, daemon=True,
                         name=f"proxy-{port}").start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._carry, args=(client,), daemon=True).start()

    def _carry(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection((self.target, self.target_port), timeout=5)
        except OSError:
            client.close()
            return
        upstream.settimeout(None)
        with self.lock:
            if self.closed:
                client.close()
                upstream.close()
                return
            self.conns |= {client, upstream}
        back = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
        back.start()
        _pump(client, upstream)
        back.join()
        with self.lock:
            self.conns -= {client, upstream}
        client.close()
        upstream.close()

    def close(self) -> None:
        """No more connections, and those open are cut (the container is gone)."""
        with self.lock:
            self.closed = True
            conns, self.conns = list(self.conns), set()
        for s in [self.sock, *conns]:
            try:
                s.shutdown(socket.SHUT_RDWR)  # wakes the threads blocked on it
            except OSError:
                pass
            s.close()


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
