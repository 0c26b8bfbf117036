"""Network namespaces from a multi-threaded daemon, without forking: a fresh thread
unshares (or enters) a network namespace — a per-thread property — and either pins it
with a bind mount or opens a netlink socket there, which stays in that namespace.

Inside a namespace only four things are needed (lo up, an address, a link up, the
default route): their messages are built with pyroute2's message classes and sent on
that socket (pyroute2's own IPRoute(netns=...) would fork the daemon)."""

from __future__ import annotations

import errno
import os
import socket
import struct
import threading
from collections.abc import Callable
from typing import Any

from pyroute2.netlink import NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST
from pyroute2.netlink.rtnl import RTM_DELADDR, RTM_NEWADDR, RTM_NEWLINK, RTM_NEWROUTE
from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg
from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg
from pyroute2.netlink.rtnl.rtmsg import rtmsg

from darse import syscalls
from darse.errors import SystemFailure

IFF_UP = 1
IFA_F_NODAD = 0x02


def in_thread(fn: Callable[[], Any]) -> Any:
    """Run fn in a new thread (which may change its own namespaces) and return its result."""
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
            out["error"] = exc

    t = threading.Thread(target=run)
    t.start()
    t.join()
    if "error" in out:
        raise out["error"]
    return out.get("value")


def create(path: str) -> None:
    """A new network namespace pinned at path (what `ip netns add` does)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o444))

    def make() -> None:
        syscalls.unshare(syscalls.CLONE_NEWNET)
        syscalls.mount(f"/proc/self/task/{threading.get_native_id()}/ns/net", path, None,
                       syscalls.MS_BIND)

    try:
        in_thread(make)
    except BaseException:
        os.unlink(path)
        raise


def sysctls(path: str, values: dict[str, str]) -> None:
    """net.* sysctls of the namespace at path ({"ipv6/conf/lo/disable_ipv6": "0"}): a
    thread enters it, and /proc/sys/net is the namespace of the thread that opens it."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        def write() -> None:
            syscalls.setns(fd, syscalls.CLONE_NEWNET)
            for key, value in values.items():
                with open(f"/proc/sys/net/{key}", "w") as f:
                    f.write(value)

        in_thread(write)
    finally:
        os.close(fd)


def ipv6_off(path: str) -> None:
    """As dockerd 20.10 makes a container's namespace: IPv6 off on every interface,
    now and to come (lo has no ::1); each IPv6 endpoint turns its own on, and lo's."""
    sysctls(path, {"ipv6/conf/all/disable_ipv6": "1", "ipv6/conf/default/disable_ipv6": "1"})


def ipv6_on(path: str, ifname: str) -> None:
    sysctls(path, {f"ipv6/conf/{ifname}/disable_ipv6": "0", "ipv6/conf/lo/disable_ipv6": "0"})


def delete(path: str) -> None:
    """Unpin a namespace darse pinned. They are named after their container's ID:
    anything else there is someone else's (an exec root set to /run would share
    iproute2's /run/netns), and is left alone."""
    name = os.path.basename(path)
    if len(name) != 64 or name.strip("0123456789abcdef"):
        return
    try:
        syscalls.umount2(path, syscalls.MNT_DETACH)
    except OSError:
        pass
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


class Inside:
    """A netlink socket inside a network namespace, and the few calls darse needs there."""

    def __init__(self, path: str, names: tuple[str, ...] = ()) -> None:
        """names: interfaces whose index is looked up while in there (one thread)."""
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            def open_socket() -> tuple[socket.socket, dict[str, int]]:
                syscalls.setns(fd, syscalls.CLONE_NEWNET)
                s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
                s.bind((0, 0))
                return s, {n: socket.if_nametoindex(n) for n in names}

            self.sock, self.indexes = in_thread(open_socket)
            self.path = path
        finally:
            os.close(fd)
        self.seq = 0

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Inside:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _request(self, msg: Any, kind: int, flags: int = 0) -> None:
        self.seq += 1
        msg["header"]["type"] = kind
        msg["header"]["flags"] = NLM_F_REQUEST | NLM_F_ACK | flags
        msg["header"]["sequence_number"] = self.seq
        msg.encode()
        self.sock.send(msg.data)
        while True:
            data = self.sock.recv(65536)
            offset = 0
            while offset < len(data):
                length, mtype, _, seq, _ = struct.unpack_from("IHHII", data, offset)
                if mtype == 2 and seq == self.seq:  # NLMSG_ERROR: 0 is the ack
                    code = -struct.unpack_from("i", data, offset + 16)[0]
                    if code and code != errno.EEXIST:
                        raise SystemFailure(f"netlink in {self.path}: {os.strerror(code)}")
                    return
                offset += length

    def index(self, name: str) -> int:
        """The interface index, asked in the namespace (if_nametoindex is per-netns)."""
        if name in self.indexes:
            return self.indexes[name]
        fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            def lookup() -> int:
                syscalls.setns(fd, syscalls.CLONE_NEWNET)
                return socket.if_nametoindex(name)

            return in_thread(lookup)
        finally:
            os.close(fd)

    def link_up(self, name: str, rename: str | None = None) -> int:
        idx = self.index(name)
        msg = ifinfmsg()
        msg["index"] = idx
        msg["flags"] = IFF_UP
        msg["change"] = IFF_UP
        if rename:
            msg["attrs"] = [("IFLA_IFNAME", rename)]
        self._request(msg, RTM_NEWLINK)
        return idx

    def addr(self, index: int, address: str, prefixlen: int, add: bool = True,
             nodad: bool = False) -> None:
        """An IPv4 or IPv6 address; nodad: usable at once, no duplicate address
        detection (dockerd's IPv6 addresses of containers are so)."""
        msg = ifaddrmsg()
        v6 = ":" in address
        msg["family"] = socket.AF_INET6 if v6 else socket.AF_INET
        msg["prefixlen"] = prefixlen
        msg["index"] = index
        msg["flags"] = IFA_F_NODAD if nodad else 0
        # (IPv6 has no peer address: IFA_LOCAL would be one more attribute to refuse)
        msg["attrs"] = [("IFA_ADDRESS", address)] if v6 else \
            [("IFA_LOCAL", address), ("IFA_ADDRESS", address)]
        if add:
            self._request(msg, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL)
        else:
            self._request(msg, RTM_DELADDR)

    def default_route(self, gateway: str) -> None:
        msg = rtmsg()
        msg["family"] = socket.AF_INET6 if ":" in gateway else socket.AF_INET
        msg["table"] = 254  # main
        msg["proto"] = 4  # static
        msg["scope"] = 0  # universe
        msg["type"] = 1  # unicast
        msg["attrs"] = [("RTA_GATEWAY", gateway)]
        self._request(msg, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL)
