"""The nftables side of publishing one port (what `run -d -p` and its `rm -f` ask of
darse's table), with no other port published and with 200 published and 100 networks,
in a network namespace of the bench's own (its table goes with it):

    sudo unshare -n /opt/darse/venv/bin/python bench/nft_ports.py [-n 200]
"""

from __future__ import annotations

import argparse
import inspect
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from darse.network import nftables  # noqa: E402

# The form before maps took the container id (a rule per port, found by comment).
MAPS = "container_id" not in inspect.signature(nftables.add_ports).parameters


def publish(cid: str, ip: str, ports: list[tuple[str, int, str, int]]) -> object:
    return nftables.add_ports(ip, ports) if MAPS else nftables.add_ports(cid, ip, ports)


def unpublish(cid: str, handle: object) -> None:
    nftables.remove_ports(handle if MAPS else cid)


def one_port_ms(n: int) -> tuple[float, float]:
    adds, removes = [], []
    for i in range(n):
        cid = f"{i:064x}"
        t0 = time.perf_counter()
        handle = publish(cid, "10.200.0.250", [("", 40000, "tcp", 80)])
        adds.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        unpublish(cid, handle)
        removes.append(time.perf_counter() - t0)
    return statistics.median(adds) * 1000, statistics.median(removes) * 1000


def one_network_ms(n: int) -> tuple[float, float]:
    """A network's own part of the table made, then taken away (network create, rm)."""
    sets = "subnet" in inspect.signature(nftables.remove_network).parameters
    adds, removes = [], []
    for _ in range(n):
        t0 = time.perf_counter()
        nftables.add_network("dzbx", "10.235.0.0/24", False)
        adds.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        if sets:
            nftables.remove_network("dzbx", "10.235.0.0/24", False)
        else:
            nftables.remove_network("dzbx")
        removes.append(time.perf_counter() - t0)
    return statistics.median(adds) * 1000, statistics.median(removes) * 1000


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("-n", type=int, default=200)
    p.add_argument("--ports", type=int, default=200)
    p.add_argument("--networks", type=int, default=100)
    args = p.parse_args()
    if os.readlink("/proc/self/ns/net") == os.readlink(f"/proc/{os.getppid()}/ns/net"):
        sys.exit("run it in a network namespace of its own: unshare -n ...")
    nftables.TABLE = "darse_bench"
    nftables.setup()
    print(f"{'maps' if MAPS else 'a rule per port'}:")
    add, rm = one_port_ms(args.n)
    print(f"  publish one port, none published     {add:.2f} ms (its removal {rm:.2f} ms)")
    add, rm = one_network_ms(args.n // 4)
    print(f"  one network, no other                {add:.2f} ms (its removal {rm:.2f} ms)")
    for i in range(args.networks):
        nftables.add_network(f"dzb{i}", f"10.236.{i}.0/24", False)
    for c in range(0, args.ports, 10):
        publish(f"{c:064x}", f"10.200.1.{c // 10 + 1}",
                [("", 20000 + c + k, "tcp", 80 + k) for k in range(10)])
    add, rm = one_port_ms(args.n)
    print(f"  publish one port, {args.ports} published, {args.networks} networks "
          f"{add:.2f} ms (its removal {rm:.2f} ms)")
    add, rm = one_network_ms(args.n // 4)
    print(f"  one network, {args.networks} others               {add:.2f} ms "
          f"(its removal {rm:.2f} ms)")
    nftables.teardown()


if __name__ == "__main__":
    main()
