"""Pods on a CNI network (Debian's containernetworking-plugins: bridge and host-local), as a
cluster's network plugin gives them: an address in the network's subnet, reachable from
the host and from another pod; everything handed back at stop."""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from darse.cri.proto import api_pb2 as pb
from tests.conftest import unique_network
from tests.cri.conftest import Cri
from tests.cri.test_pods import run_pod, sh, start


@pytest.fixture
def network(pods: Cri, tmp_path: Path) -> Iterator[tuple[str, ipaddress.IPv4Network]]:
    bridge, bip = unique_network()
    subnet = ipaddress.ip_interface(bip).network
    conf = pods.darsed.base / "net.d" / "10-test.conflist"
    conf.write_text(json.dumps({
        "cniVersion": "0.4.0", "name": f"net-{bridge}",
        "plugins": [{"type": "bridge", "bridge": bridge, "isGateway": True, "ipMasq": False,
                     "ipam": {"type": "host-local", "dataDir": str(tmp_path / "ipam"),
                              "ranges": [[{"subnet": str(subnet)}]],
                              "routes": [{"dst": "0.0.0.0/0"}]}}]}))
    try:
        yield bridge, subnet
    finally:
        pods.remove_all()
        conf.unlink()
        subprocess.run(["ip", "link", "del", bridge], capture_output=True)


def _veths(bridge: str) -> list[str]:
    out = subprocess.run(["ip", "-o", "link", "show", "master", bridge], capture_output=True,
                         text=True).stdout
    return [line.split(":")[1].strip() for line in out.splitlines()]


def test_pods_get_addresses_and_reach_each_other(pods: Cri, network, tmp_path: Path) -> None:
    bridge, subnet = network
    conditions = {c.type: c.status for c in pods.runtime.Status(pb.StatusRequest())
                  .status.conditions}
    assert conditions["NetworkReady"] is True
    web = run_pod(pods, "cni-web")
    start(pods, web, "httpd", "sh", "-c",
          "echo served-by-pod >/tmp/index.html; exec httpd -f -p 80 -h /tmp")
    ip = pods.runtime.PodSandboxStatus(pb.PodSandboxStatusRequest(
        pod_sandbox_id=web)).status.network.ip
    assert ipaddress.ip_address(ip) in subnet
    # From the host (as critest fetches http://POD_IP:80).
    deadline = time.monotonic() + 10
    while True:
        try:
            with urllib.request.urlopen(f"http://{ip}:80/index.html", timeout=2) as resp:
                assert resp.read() == b"served-by-pod\n"
                break
        except OSError:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    # From another pod, through the bridge.
    client = run_pod(pods, "cni-client")
    cid = start(pods, client, "c", "sleep", "1000")
    assert sh(pods, cid, f"wget -qO- http://{ip}/index.html").stdout == b"served-by-pod\n"
    own = sh(pods, cid, "ip -o -4 addr show eth0").stdout.decode().split()[3]
    assert ipaddress.ip_interface(own).network == subnet
    assert len(_veths(bridge)) == 2

    for pod in (web, client):
        pods.runtime.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=pod))
    assert _veths(bridge) == []
    allocated = [f for f in os.listdir(tmp_path / "ipam" / f"net-{bridge}")
                 if f[0].isdigit()]
    assert allocated == []  # the addresses are back in the pool


def test_a_failing_plugin_fails_the_pod_and_leaves_nothing(pods: Cri) -> None:
    conf = pods.darsed.base / "net.d" / "00-broken.conflist"
    conf.write_text(json.dumps({"cniVersion": "0.4.0", "name": "broken",
                                "plugins": [{"type": "no-such-plugin"}]}))
    try:
        with pytest.raises(Exception, match="no-such-plugin"):
            run_pod(pods, "broken")
        assert pods.runtime.ListPodSandbox(pb.ListPodSandboxRequest()).items == []
        assert not [m for m in open("/proc/self/mountinfo")
                    if str(pods.darsed.base) in m and "/cri/" in m]
    finally:
        conf.unlink()


def test_pod_stats(pods: Cri, network) -> None:
    pod = run_pod(pods, "pod-stats")
    cid = start(pods, pod, "c", "sh", "-c", "while :; do :; done")
    sh(pods, cid, "ping -c 3 -i 0.2 -W 1 $(ip route | awk '/default/ {print $3}') >/dev/null")
    s = pods.runtime.PodSandboxStats(pb.PodSandboxStatsRequest(pod_sandbox_id=pod)).stats
    assert s.attributes.id == pod and s.attributes.metadata.name == "pod-stats"
    assert [c.attributes.id for c in s.linux.containers] == [cid]
    assert s.linux.cpu.usage_core_nano_seconds.value > 0
    assert s.linux.memory.usage_bytes.value > 0
    assert s.linux.process.process_count.value >= 1
    eth0 = s.linux.network.default_interface
    assert eth0.name == "eth0" and eth0.tx_bytes.value > 0 and eth0.rx_bytes.value > 0
    listed = pods.runtime.ListPodSandboxStats(pb.ListPodSandboxStatsRequest()).stats
    assert [x.attributes.id for x in listed] == [pod]


def _nat_rules() -> str:
    return subprocess.run(["iptables", "-t", "nat", "-S"], capture_output=True,
                          text=True).stdout


def _nft_tables() -> str:
    return subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout


def _nft_table(family: str, table: str) -> str:
    """The table's rules as `nft -a` lists them ('# handle' marks each rule)."""
    out = subprocess.run(["nft", "-a", "list", "table", family, table], capture_output=True,
                         text=True).stdout
    return "\n".join("rule" for line in out.splitlines()
                     if "# handle" in line and not line.strip().startswith(("chain", "table")))


def _drop_portmap_chains() -> None:
    """The portmap plugin's shared chains and jumps stay after the last DEL: removed when
    this test made them."""
    for chain, rule in (("PREROUTING", ["-m", "addrtype", "--dst-type", "LOCAL", "-j",
                                        "CNI-HOSTPORT-DNAT"]),
                        ("OUTPUT", ["-m", "addrtype", "--dst-type", "LOCAL", "-j",
                                    "CNI-HOSTPORT-DNAT"]),
                        ("POSTROUTING", ["-m", "comment", "--comment",
                                         "CNI portfwd requiring masquerade", "-j",
                                         "CNI-HOSTPORT-MASQ"])):
        subprocess.run(["iptables", "-t", "nat", "-D", chain, *rule], capture_output=True)
    for chain in ("CNI-HOSTPORT-DNAT", "CNI-HOSTPORT-MASQ", "CNI-HOSTPORT-SETMARK"):
        subprocess.run(["iptables", "-t", "nat", "-F", chain], capture_output=True)
        subprocess.run(["iptables", "-t", "nat", "-X", chain], capture_output=True)


def test_host_port_through_portmap(pods: Cri, tmp_path: Path) -> None:
    """A hostPort on 127.0.0.1 (critest's 12000), by the portmap plugin chained after the
    bridge, given the pod's port mappings (capability portMappings)."""
    if shutil.which("iptables") is None:
        raise RuntimeError("iptables is missing (docker.io brings it)")
    had_chains = "CNI-HOSTPORT-DNAT" in _nat_rules()
    had_tables = _nft_tables()
    bridge, bip = unique_network()
    conf = pods.darsed.base / "net.d" / "10-portmap.conflist"
    conf.write_text(json.dumps({
        "cniVersion": "0.4.0", "name": f"net-{bridge}",
        "plugins": [{"type": "bridge", "bridge": bridge, "isGateway": True, "ipMasq": False,
                     "ipam": {"type": "host-local", "dataDir": str(tmp_path / "ipam"),
                              "ranges": [[{"subnet": str(ipaddress.ip_interface(bip)
                                                         .network)}]],
                              "routes": [{"dst": "0.0.0.0/0"}]}},
                    {"type": "portmap", "capabilities": {"portMappings": True}}]}))
    try:
        config = pb.PodSandboxConfig(
            metadata=pb.PodSandboxMetadata(name="hostport", uid="hp", namespace="default"),
            port_mappings=[pb.PortMapping(container_port=80, host_port=12000)])
        pod = pods.runtime.RunPodSandbox(pb.RunPodSandboxRequest(config=config)).pod_sandbox_id
        start(pods, pod, "web", "sh", "-c",
              "echo via-host-port >/tmp/index.html; exec httpd -f -p 80 -h /tmp")
        deadline = time.monotonic() + 10
        while True:
            try:
                with urllib.request.urlopen("http://127.0.0.1:12000/index.html",
                                            timeout=2) as resp:
                    assert resp.read() == b"via-host-port\n"
                    break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        pods.runtime.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=pod))
        assert "--dport 12000" not in _nat_rules()  # DEL took the pod's rules away
    finally:
        pods.remove_all()
        conf.unlink()
        subprocess.run(["ip", "link", "del", bridge], capture_output=True)
        if not had_chains:
            _drop_portmap_chains()
        # iptables-nft made the (now empty) nat tables for the plugin: not left behind.
        for family, table in (("ip", "nat"), ("ip6", "nat")):
            if f"table {family} {table}" not in had_tables and \
                    "rule" not in _nft_table(family, table):
                subprocess.run(["nft", "delete", "table", family, table], capture_output=True)
