"""The seed's network chapter on real kernel networking, through darse's CLI and the
docker CLI: default bridge, publishing (-p, -P) reached from 127.0.0.1 and from an
outside client namespace, user networks with names, isolation, connect/disconnect,
host and none, bip and the bridge-name option."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import urllib.request
import uuid
from collections.abc import Iterator

import pytest

from tests.cli.test_cli import darse
from tests.daemon import Darsed, http_get, new_daemon


def ok(d: Darsed, *args: str) -> str:
    done = darse(d, *args)
    assert done.returncode == 0, f"darse {' '.join(args)}: {done.stderr}"
    return done.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]



@contextlib.contextmanager
def linked_namespace(kind: str, octet: int) -> Iterator[tuple[str, str, str]]:
    """A network namespace of the test's own joined to the host by a veth pair on a /30
    of 10.OCTET.x.0: (its name, the host's address, its address); gone afterwards."""
    tag = uuid.uuid4().hex[:6]
    ns, host_if, peer = f"darse-{kind}-{tag}", f"dz{kind}{tag}", f"dy{kind}{tag}"
    n = os.getpid() % 200
    host_ip, far_ip = f"10.{octet}.{n}.1", f"10.{octet}.{n}.2"

    def sh(*args: str) -> None:
        subprocess.run(args, check=True, capture_output=True)

    try:
        sh("ip", "netns", "add", ns)
        sh("ip", "link", "add", host_if, "type", "veth", "peer", "name", peer, "netns", ns)
        sh("ip", "addr", "add", f"{host_ip}/30", "dev", host_if)
        sh("ip", "link", "set", host_if, "up")
        sh("ip", "-n", ns, "addr", "add", f"{far_ip}/30", "dev", peer)
        sh("ip", "-n", ns, "link", "set", peer, "up")
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        yield ns, host_ip, far_ip
    finally:
        subprocess.run(["ip", "link", "del", host_if], capture_output=True)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)

@pytest.fixture
def www(tmp_path) -> str:
    (tmp_path / "index.html").write_text("hello from a darse container\n")
    return str(tmp_path)


def test_default_bridge_address_and_gateway(darsed: Darsed) -> None:
    bip = ipaddress.ip_interface(darsed.config["bip"])
    out = ok(darsed, "run", "--rm", "busybox", "sh", "-c",
             f"ip -4 -o addr show eth0; ping -c1 -W2 {bip.ip} >/dev/null && echo pong")
    addr = ipaddress.ip_interface(out.split()[3])
    assert addr in bip.network and out.strip().endswith("pong")
    info = json.loads(ok(darsed, "network", "inspect", "bridge"))[0]
    assert info["Options"]["com.docker.network.bridge.name"] == darsed.config["bridge"]
    assert info["IPAM"]["Config"] == [{"Subnet": str(bip.network), "Gateway": str(bip.ip)}]
    host = subprocess.run(["ip", "-4", "-o", "addr", "show", darsed.config["bridge"]],
                          capture_output=True, text=True).stdout
    assert str(bip) in host


def test_publish_p_and_P(darsed: Darsed, www: str) -> None:
    port = free_port()
    ok(darsed, "run", "-d", "--name", "web", "-p", f"{port}:80", "-v", f"{www}:/www",
       "busybox", "httpd", "-f", "-p", "80", "-h", "/www")
    assert http_get(f"http://127.0.0.1:{port}/") == "hello from a darse container\n"
    ps = ok(darsed, "ps", "--format", "{{.Names}} {{.Ports}}")
    # as dockerd 20.10 on a host with IPv6: bound on :: too (darsed's proxy carries it)
    assert f"web 0.0.0.0:{port}->80/tcp, :::{port}->80/tcp\n" in ps
    ok(darsed, "run", "-d", "--name", "web2", "-P", "--expose", "80", "-v", f"{www}:/www",
       "busybox", "httpd", "-f", "-p", "80", "-h", "/www")
    mapped = ok(darsed, "port", "web2", "80").splitlines()
    assert mapped[0].startswith("0.0.0.0:") and len(mapped) == 2
    assert mapped[1] == f":::{mapped[0].split(':')[1]}"
    assert "hello" in http_get(f"http://127.0.0.1:{mapped[0].split(':')[1]}/")
    assert "hello" in http_get(f"http://[::1]:{mapped[0].split(':')[1]}/")
    # Another container reaches the published port through the host's bridge address.
    gw = ipaddress.ip_interface(darsed.config["bip"]).ip
    out = ok(darsed, "run", "--rm", "busybox", "wget", "-qO-", f"http://{gw}:{port}/")
    assert out == "hello from a darse container\n"
    ok(darsed, "rm", "-f", "web", "web2")
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)


def test_published_port_taken_is_refused(darsed: Darsed, www: str) -> None:
    """A host port published by a running container cannot be published again, in
    dockerd 20.10's words: the same address is its allocator's 'port is already
    allocated', an overlapping one (127.0.0.1 under 0.0.0.0, [::1] under [::]) its
    docker-proxy's failed bind; the first keeps it, and once it is gone the port is
    free for another."""
    port = free_port()
    ok(darsed, "run", "-d", "--name", "first", "-p", f"{port}:80", "-v", f"{www}:/www",
       "busybox", "httpd", "-f", "-p", "80", "-h", "/www")
    try:
        for spec, words in (
                (f"{port}:81", f"Bind for 0.0.0.0:{port} failed: port is already allocated"),
                (f"127.0.0.1:{port}:81", f"Error starting userland proxy: listen tcp4 "
                                         f"127.0.0.1:{port}: bind: address already in use"),
                (f"[::1]:{port}:81", f"Error starting userland proxy: listen tcp6 "
                                     f"[::1]:{port}: bind: address already in use")):
            done = darse(darsed, "run", "-d", "--name", "second", "-p", spec, "busybox",
                         "sleep", "100")
            assert done.returncode != 0
            assert "driver failed programming external connectivity on endpoint second (" \
                in done.stderr and f"): {words}" in done.stderr, done.stderr
            assert json.loads(ok(darsed, "inspect", "second"))[0]["State"]["Running"] is False
            ok(darsed, "rm", "-f", "second")
        assert http_get(f"http://127.0.0.1:{port}/") == "hello from a darse container\n"
    finally:
        ok(darsed, "rm", "-f", "first")
    ok(darsed, "run", "-d", "--name", "third", "-p", f"127.0.0.1:{port}:80", "-v",
       f"{www}:/www", "busybox", "httpd", "-f", "-p", "80", "-h", "/www")
    try:
        assert http_get(f"http://127.0.0.1:{port}/") == "hello from a darse container\n"
        done = darse(darsed, "run", "-d", "--name", "fourth", "-p", f"{port}:80", "busybox",
                     "sleep", "100")  # 0.0.0.0 over 127.0.0.1: docker-proxy's bind fails
        assert f"): Error starting userland proxy: listen tcp4 0.0.0.0:{port}: bind: address " \
            "already in use" in done.stderr, done.stderr
    finally:
        darse(darsed, "rm", "-f", "fourth")
        ok(darsed, "rm", "-f", "third")


def test_readoption_survives_a_port_recorded_twice(busybox_rootfs: str) -> None:
    """Records from a darse that let two running containers publish one host port: a
    restarted darsed still comes up and re-adopts both (the second's DNAT not made)."""
    d = new_daemon()
    try:
        d.start()
        d.import_busybox(busybox_rootfs)
        p1, p2 = free_port(), free_port()
        a = ok(d, "run", "-d", "-p", f"{p1}:80", "busybox", "sleep", "100").strip()
        b = ok(d, "run", "-d", "-p", f"{p2}:80", "busybox", "sleep", "100").strip()
        d.kill()
        db = sqlite3.connect(os.path.join(d.data_root, "state.db"))
        doc = json.loads(db.execute("SELECT doc FROM containers WHERE id=?", (b,)).fetchone()[0])
        doc["NetworkSettings"]["Ports"]["80/tcp"][0]["HostPort"] = str(p1)
        db.execute("UPDATE containers SET doc=? WHERE id=?", (json.dumps(doc), b))
        db.commit()
        db.close()
        d.start()
        assert sorted(ok(d, "ps", "-q", "--no-trunc").split()) == sorted([a, b])
    finally:
        d.stop()
        shutil.rmtree(d.base, ignore_errors=True)


def test_publish_reached_from_outside_the_host(darsed: Darsed, www: str) -> None:
    """A client in a network namespace of the test's own, linked to the host by a veth
    pair, reaches the published port at the host's end of the link."""
    port = free_port()
    ok(darsed, "run", "-d", "--name", "webx", "-p", f"{port}:80", "-v", f"{www}:/www",
       "busybox", "httpd", "-f", "-p", "80", "-h", "/www")
    stack = contextlib.ExitStack()
    try:
        ns, host_ip, _ = stack.enter_context(linked_namespace("c", 251))
        got = subprocess.run(["ip", "netns", "exec", ns, "python3", "-c",
                              "import urllib.request,sys; print(urllib.request.urlopen("
                              f"'http://{host_ip}:{port}/', timeout=5).read().decode(), end='')"],
                             capture_output=True, text=True, timeout=20)
        assert got.stdout == "hello from a darse container\n", got.stderr
    finally:
        stack.close()
        ok(darsed, "rm", "-f", "webx")


def test_containers_leave_through_the_hosts_address(darsed: Darsed) -> None:
    """Masquerade: a container of the default bridge, and one of a user-defined network,
    reach a namespace of the test's own routed by the host, which sees the host's
    address (it has no route back to the containers' subnets)."""
    n = os.getpid() % 200
    stack = contextlib.ExitStack()
    try:
        _, _, far_ip = stack.enter_context(linked_namespace("o", 241))
        ok(darsed, "network", "create", "--subnet", f"10.243.{n}.0/24", "outnet")
        for net in ("bridge", "outnet"):
            out = ok(darsed, "run", "--rm", "--network", net, "busybox", "ping", "-c1",
                     "-W3", far_ip)
            assert "1 packets received" in out, (net, out)
    finally:
        stack.close()
        darse(darsed, "network", "rm", "outnet")


def test_user_network_names_and_isolation(darsed: Darsed) -> None:
    n = os.getpid() % 200
    subnet = f"10.252.{n}.0/24"
    ok(darsed, "network", "create", "--driver=bridge", f"--subnet={subnet}", "monreseau0")
    ls = ok(darsed, "network", "ls")
    assert any(line.split()[1:] == ["monreseau0", "bridge", "local"]
               for line in ls.splitlines()[1:])
    ok(darsed, "run", "-d", "--name", "c1", "--network", "monreseau0", "busybox", "sleep",
       "1000")
    ok(darsed, "run", "-d", "--name", "c2", "--network", "monreseau0", "busybox", "sleep",
       "1000")
    out = ok(darsed, "exec", "c2", "ping", "-c1", "-W2", "c1")
    assert "64 bytes from 10.252." in out
    # The reverse lookup iputils' ping makes (the seed's "64 bytes from c1.monreseau0").
    c1_addr = out.split("(")[1].split(")")[0]
    ptr = ok(darsed, "exec", "c2", "nslookup", c1_addr)
    assert "c1.monreseau0" in ptr
    info = json.loads(ok(darsed, "network", "inspect", "monreseau0"))[0]
    assert {c["Name"] for c in info["Containers"].values()} == {"c1", "c2"}
    # On the default bridge, names do not resolve (as in Docker).
    ok(darsed, "run", "-d", "--name", "d1", "busybox", "sleep", "1000")
    bad = darse(darsed, "run", "--rm", "busybox", "ping", "-c1", "-W1", "d1")
    assert bad.returncode != 0 and "bad address" in bad.stderr
    # Networks are isolated: d1 (default bridge) cannot reach c1.
    c1_ip = json.loads(ok(darsed, "inspect", "c1"))[0]["NetworkSettings"]["Networks"][
        "monreseau0"]["IPAddress"]
    assert darse(darsed, "exec", "d1", "ping", "-c1", "-W1", c1_ip).returncode != 0
    # Connected to monreseau0 as well, d1 gets eth1 and reaches c1 by name.
    ok(darsed, "network", "connect", "monreseau0", "d1")
    assert "eth1" in ok(darsed, "exec", "d1", "ip", "-o", "link")
    assert "64 bytes" in ok(darsed, "exec", "d1", "ping", "-c1", "-W2", "c1")
    refused = darse(darsed, "network", "rm", "monreseau0")
    assert refused.returncode == 1 and "has active endpoints" in refused.stderr
    ok(darsed, "network", "disconnect", "monreseau0", "d1")
    assert "eth1" not in ok(darsed, "exec", "d1", "ip", "-o", "link")
    ok(darsed, "rm", "-f", "c1", "c2", "d1")
    assert ok(darsed, "network", "rm", "monreseau0") == "monreseau0\n"


def test_host_and_none(darsed: Darsed) -> None:
    assert ok(darsed, "run", "--rm", "--network", "none", "busybox", "ls",
              "/sys/class/net") == "lo\n"
    host = ok(darsed, "run", "--rm", "--network", "host", "busybox", "ls", "/sys/class/net")
    assert sorted(host.split()) == sorted(os.listdir("/sys/class/net"))
    info = json.loads(ok(darsed, "inspect", "-f", "{{json .NetworkSettings}}",
                         ok(darsed, "create", "--network", "host", "busybox").strip()))
    assert info["IPAddress"] == "" and list(info["Networks"]) == ["host"]


def test_bridge_name_option_and_bip(busybox_rootfs: str) -> None:
    """daemon.json "bip" sets the default bridge's address; a network's bridge can be
    named with com.docker.network.bridge.name."""
    d = new_daemon()
    n = os.getpid() % 200
    name = f"titi{n}"
    (d.base / "daemon.json").write_text(json.dumps({"bip": f"10.253.{n}.1/24",
                                                    "bridge": f"dzb{n}"}))
    try:
        d.start()
        d.import_busybox(busybox_rootfs)
        out = ok(d, "run", "--rm", "busybox", "ip", "-4", "-o", "addr", "show", "eth0")
        assert f"10.253.{n}." in out
        ok(d, "network", "create", "-o", f"com.docker.network.bridge.name={name}", name)
        assert subprocess.run(["ip", "link", "show", name], capture_output=True).returncode == 0
        ok(d, "network", "rm", name)
        assert subprocess.run(["ip", "link", "show", name], capture_output=True).returncode != 0
    finally:
        d.stop()
        shutil.rmtree(d.base, ignore_errors=True)
    assert subprocess.run(["ip", "link", "show", f"dzb{n}"], capture_output=True
                          ).returncode != 0  # --cleanup took the default bridge too


def test_docker_cli_network(docker: Darsed, www: str) -> None:
    n = os.getpid() % 200
    assert docker.docker("network", "create", "--subnet", f"10.254.{n}.0/24", "dnet"
                         ).returncode == 0
    port = free_port()
    done = docker.docker("run", "-d", "--name", "dw", "--network", "dnet", "-p",
                         f"127.0.0.1:{port}:80", "-v", f"{www}:/www", "busybox", "httpd", "-f",
                         "-p", "80", "-h", "/www")
    assert done.returncode == 0, done.stderr
    assert http_get(f"http://127.0.0.1:{port}/") == "hello from a darse container\n"
    out = docker.docker("run", "--rm", "--network", "dnet", "busybox", "wget", "-qO-",
                        "http://dw/").stdout
    assert out == "hello from a darse container\n"
    ps = docker.docker("ps", "--format", "{{.Ports}}").stdout
    assert f"127.0.0.1:{port}->80/tcp" in ps
    docker.docker("rm", "-f", "dw")
    assert docker.docker("network", "rm", "dnet").returncode == 0


def test_internal_network_static_ip_and_alias(darsed: Darsed) -> None:
    n = os.getpid() % 200
    ok(darsed, "network", "create", "--internal", "--subnet", f"10.248.{n}.0/24", "inner")
    ok(darsed, "run", "-d", "--name", "srv", "--network", "inner", "--ip", f"10.248.{n}.50",
       "--network-alias", "db", "busybox", "sleep", "1000")
    out = ok(darsed, "run", "--rm", "--network", "inner", "busybox", "ping", "-c1", "-W2", "db")
    assert f"10.248.{n}.50" in out
    # No way out of an internal network: no default route, and other networks' containers
    # are out of reach.
    routes = ok(darsed, "run", "--rm", "--network", "inner", "busybox", "ip", "route")
    assert "default" not in routes
    ok(darsed, "run", "-d", "--name", "outsider", "busybox", "sleep", "1000")
    out_ip = json.loads(ok(darsed, "inspect", "outsider"))[0]["NetworkSettings"]["IPAddress"]
    assert darse(darsed, "exec", "srv", "ping", "-c1", "-W1", out_ip).returncode != 0
    assert darse(darsed, "exec", "outsider", "ping", "-c1", "-W1", f"10.248.{n}.50"
                 ).returncode != 0
    ok(darsed, "rm", "-f", "outsider")
    taken = darse(darsed, "run", "--rm", "--network", "inner", "--ip", f"10.248.{n}.50",
                  "busybox", "true")
    assert taken.returncode != 0 and "Address already in use" in taken.stderr
    ok(darsed, "rm", "-f", "srv")
    ok(darsed, "network", "rm", "inner")
    assert darse(darsed, "network", "rm", "inner").returncode == 1  # gone: not found


def test_debian_container_reaches_its_mirror(darsed: Darsed, debian_tar: str) -> None:
    """Masquerade and DNS: apt-get update in a Debian container on the default bridge
    (outbound traffic to Debian's package mirror is allowed on this workplace)."""
    ok(darsed, "import", debian_tar, "debian:bookworm")
    done = darse(darsed, "run", "--rm", "debian:bookworm", "apt-get", "update")
    assert done.returncode == 0, done.stderr
    assert "Reading package lists" in done.stdout
    ok(darsed, "rmi", "debian:bookworm")


def test_container_network_mode(darsed: Darsed) -> None:
    ok(darsed, "run", "-d", "--name", "netowner", "busybox", "sleep", "1000")
    pid = json.loads(ok(darsed, "inspect", "netowner"))[0]["State"]["Pid"]
    out = ok(darsed, "run", "--rm", "--network", "container:netowner", "busybox", "readlink",
             "/proc/self/ns/net")
    assert out.strip() == os.readlink(f"/proc/{pid}/ns/net")
    missing = darse(darsed, "run", "--rm", "--network", "container:nosuch", "busybox", "true")
    assert missing.returncode == 125 and "No such container: nosuch" in missing.stderr
    ok(darsed, "rm", "-f", "netowner")
