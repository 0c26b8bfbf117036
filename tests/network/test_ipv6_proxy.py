"""A container with only an IPv4 address publishes on IPv6 too, as dockerd 20.10 does
(checked beside a private dockerd 20.10.24): -p PORT:80 and -P are bound on 0.0.0.0
and on :: (inspect, docker port, docker ps show both), and [::]:PORT answers, carried
to the container's IPv4 address by darsed's proxy (TCP and UDP, as docker-proxy); an
address given is bound alone; a port taken on [::] refuses the start in dockerd's
words; the proxy goes with the container and comes back with a restarted darsed; a
host without IPv6 gets no :: binding."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from tests.cli.test_cli import darse
from tests.conftest import unique_subnet6
from tests.daemon import Darsed, http_get, new_daemon


def ok(d: Darsed, cli: str, *args: str) -> str:
    done = darse(d, *args) if cli == "darse" else d.docker(*args)
    assert done.returncode == 0, f"{cli} {' '.join(args)}: {done.stderr}"
    return done.stdout


def refused(d: Darsed, cli: str, *args: str) -> str:
    done = darse(d, *args) if cli == "darse" else d.docker(*args)
    assert done.returncode != 0, f"{cli} {' '.join(args)} succeeded"
    return done.stderr


def ports_of(d: Darsed, name: str) -> dict:
    return json.loads(ok(d, "darse", "inspect", name))[0]["NetworkSettings"]["Ports"]


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """Free on 0.0.0.0 and [::] alike."""
    while True:
        with socket.socket(socket.AF_INET, kind) as s:
            s.bind(("0.0.0.0", 0))
            port = s.getsockname()[1]
        try:
            with socket.socket(socket.AF_INET6, kind) as s:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                s.bind(("::", port))
        except OSError:
            continue
        return port


def answers(port: int, host: str = "::1") -> bool:
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError:
        return False
    return True


@pytest.fixture
def www(tmp_path: Path) -> str:
    (tmp_path / "index.html").write_text("hello over the proxy\n")
    tmp_path.chmod(0o755)
    return str(tmp_path)


@pytest.fixture
def names(darsed: Darsed):
    made: list[str] = []
    yield made
    for name in made:
        darse(darsed, "rm", "-f", name)


@pytest.mark.parametrize("cli", ["darse", "docker"])
def test_v4_only_container_published_on_both_families(darsed: Darsed, names, www: str,
                                                      cli: str) -> None:
    name = f"twin{cli}"
    names.append(name)
    port = free_port()
    ok(darsed, cli, "run", "-d", "--name", name, "-p", f"{port}:80", "-v", f"{www}:/www",
       "busybox", "httpd", "-f", "-p", "80", "-h", "/www")
    settings = json.loads(ok(darsed, "darse", "inspect", name))[0]["NetworkSettings"]
    assert settings["GlobalIPv6Address"] == ""  # IPv4 only
    assert settings["Ports"] == {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": str(port)},
                                            {"HostIp": "::", "HostPort": str(port)}]}
    for c in ("darse", "docker"):  # what dockerd 20.10 and the docker CLI 20.10 print
        assert ok(darsed, c, "port", name).splitlines() == [
            f"80/tcp -> 0.0.0.0:{port}", f"80/tcp -> :::{port}"]
        assert ok(darsed, c, "port", name, "80").splitlines() == [
            f"0.0.0.0:{port}", f":::{port}"]
        assert ok(darsed, c, "ps", "--filter", f"name={name}", "--format",
                  "{{.Ports}}") == f"0.0.0.0:{port}->80/tcp, :::{port}->80/tcp\n"
    # [::1] and the host's other IPv6 addresses reach the IPv4-only container
    assert http_get(f"http://[::1]:{port}/") == "hello over the proxy\n"
    assert http_get(f"http://127.0.0.1:{port}/") == "hello over the proxy\n"
    ok(darsed, cli, "rm", "-f", name)
    assert not answers(port)


def test_reached_over_ipv6_from_outside_the_host(darsed: Darsed, names, www: str) -> None:
    """A client in a network namespace of the test's own, linked to the host over IPv6
    only, reaches an IPv4-only container's published port at the host's end."""
    names.append("twinout")
    port = free_port()
    ok(darsed, "darse", "run", "-d", "--name", "twinout", "-p", f"{port}:80", "-v",
       f"{www}:/www", "busybox", "httpd", "-f", "-p", "80", "-h", "/www")
    tag = uuid.uuid4().hex[:6]
    ns, host_if, peer = f"darse-client6-{tag}", f"dzc6{tag}", f"dzp6{tag}"
    net = unique_subnet6().split("::/")[0]
    host_ip, client_ip = f"{net}::1", f"{net}::2"
    sh = lambda *a: subprocess.run(a, check=True, capture_output=True)  # noqa: E731
    try:
        sh("ip", "netns", "add", ns)
        sh("ip", "link", "add", host_if, "type", "veth", "peer", "name", peer, "netns", ns)
        sh("ip", "addr", "add", f"{host_ip}/64", "dev", host_if, "nodad")
        sh("ip", "link", "set", host_if, "up")
        sh("ip", "-n", ns, "addr", "add", f"{client_ip}/64", "dev", peer, "nodad")
        sh("ip", "-n", ns, "link", "set", peer, "up")
        got = subprocess.run(["ip", "netns", "exec", ns, "python3", "-c",
                              "import urllib.request; print(urllib.request.urlopen("
                              f"'http://[{host_ip}]:{port}/', timeout=5).read().decode(), "
                              "end='')"], capture_output=True, text=True, timeout=20)
        assert got.stdout == "hello over the proxy\n", got.stderr
    finally:
        subprocess.run(["ip", "link", "del", host_if], capture_output=True)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def _udp_echo_in(pid: int, port: int) -> subprocess.Popen:
    """A UDP echo server in the container's network namespace (busybox has none)."""
    code = ("import socket,sys\n"
            "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
            f"s.bind(('0.0.0.0',{port}))\nprint('up',flush=True)\n"
            "while True:\n d,a=s.recvfrom(65535)\n s.sendto(b'echo:'+d,a)\n")
    server = subprocess.Popen(["nsenter", "-t", str(pid), "-n", "python3", "-c", code],
                              stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None and server.stdout.readline() == "up\n"
    return server


def udp_ask(port: int, data: bytes, host: str = "::1") -> bytes:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.settimeout(1)
        for _ in range(5):
            s.sendto(data, (host, port))
            try:
                return s.recv(65535)
            except OSError:
                continue
    raise AssertionError(f"no UDP answer from [{host}]:{port}")


@pytest.mark.parametrize("cli", ["darse", "docker"])
def test_publish_all_and_udp(darsed: Darsed, names, cli: str) -> None:
    name = f"twinP{cli}"
    names.append(name)
    ok(darsed, cli, "run", "-d", "--name", name, "-P", "--expose", "80", "--expose", "53/udp",
       "busybox", "sleep", "600")
    ports = ports_of(darsed, name)
    assert sorted(ports) == ["53/udp", "80/tcp"]
    for bindings in ports.values():
        # as dockerd: the same ephemeral port on both
        assert [b["HostIp"] for b in bindings] == ["0.0.0.0", "::"], ports
        assert bindings[0]["HostPort"] == bindings[1]["HostPort"]
    udp = int(ports["53/udp"][0]["HostPort"])
    tcp = int(ports["80/tcp"][0]["HostPort"])
    lines = ok(darsed, cli, "port", name).splitlines()
    # the docker 20.10 CLI walks a Go map: its ports come in any order, each one's
    # bindings in theirs; darse's CLI sorts them
    assert (sorted(lines) if cli == "docker" else lines) == [
        f"53/udp -> 0.0.0.0:{udp}", f"53/udp -> :::{udp}",
        f"80/tcp -> 0.0.0.0:{tcp}", f"80/tcp -> :::{tcp}"]
    assert ok(darsed, cli, "ps", "--filter", f"name={name}", "--format", "{{.Ports}}") == (
        f"0.0.0.0:{udp}->53/udp, :::{udp}->53/udp, 0.0.0.0:{tcp}->80/tcp, "
        f":::{tcp}->80/tcp\n")
    pid = json.loads(ok(darsed, "darse", "inspect", name))[0]["State"]["Pid"]
    server = _udp_echo_in(pid, 53)
    try:
        assert udp_ask(udp, b"one") == b"echo:one"  # [::1] through the proxy
        assert udp_ask(udp, b"two", "127.0.0.1") == b"echo:two"  # the kernel's DNAT
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:  # a second client
            s.settimeout(3)
            s.sendto(b"three", ("::1", udp))
            assert s.recv(100) == b"echo:three"
    finally:
        server.kill()
        server.wait()
    ok(darsed, cli, "rm", "-f", name)
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
        s.bind(("::", udp))  # free again: the proxy's socket is gone


@pytest.mark.parametrize("cli", ["darse", "docker"])
def test_an_address_given_is_bound_alone(darsed: Darsed, names, www: str, cli: str) -> None:
    """127.0.0.1:P:80 and 0.0.0.0:Q:81 get no :: twin (dockerd binds :: only for a
    binding without an address); [::1]:R:82 of an IPv4-only container is carried to its
    IPv4 address, as docker-proxy does."""
    name = f"alone{cli}"
    names.append(name)
    p, q, r = free_port(), free_port(), free_port()
    ok(darsed, cli, "run", "-d", "--name", name, "-p", f"127.0.0.1:{p}:80", "-p",
       f"0.0.0.0:{q}:81", "-p", f"[::1]:{r}:82", "-v", f"{www}:/www", "busybox", "httpd",
       "-f", "-p", "82", "-h", "/www")
    assert ports_of(darsed, name) == {
        "80/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(p)}],
        "81/tcp": [{"HostIp": "0.0.0.0", "HostPort": str(q)}],
        "82/tcp": [{"HostIp": "::1", "HostPort": str(r)}]}
    assert ok(darsed, cli, "ps", "--filter", f"name={name}", "--format", "{{.Ports}}") == (
        f"127.0.0.1:{p}->80/tcp, 0.0.0.0:{q}->81/tcp, ::1:{r}->82/tcp\n")
    assert not answers(p) and not answers(q)
    assert http_get(f"http://[::1]:{r}/") == "hello over the proxy\n"
    ok(darsed, cli, "rm", "-f", name)
    assert not answers(r)


def _nft_ports(d: Darsed) -> str:
    table = f"darse_{d.config['bridge']}"
    return "".join(subprocess.run(["nft", "list", "map", family, table, "ports"],
                                  capture_output=True, text=True).stdout
                   for family in ("ip", "ip6"))


@pytest.mark.parametrize("cli", ["darse", "docker"])
@pytest.mark.parametrize("proto", ["tcp", "udp"])
def test_port_taken_on_ipv6_refuses_the_start(darsed: Darsed, names, cli: str,
                                              proto: str) -> None:
    """Someone else's socket on [::1]:P (or [::]:P): the start is refused in dockerd's
    words, and nothing of the container's ports is left (no DNAT, no proxy)."""
    name = f"taken{cli}{proto}"
    names.append(name)
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    port = free_port(kind)
    spec = f"{port}:80" if proto == "tcp" else f"{port}:80/udp"
    with socket.socket(socket.AF_INET6, kind) as other:
        other.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        other.bind(("::1", port))
        if proto == "tcp":
            other.listen()
        err = refused(darsed, cli, "run", "-d", "--name", name, "-p", spec, "busybox",
                      "sleep", "600")
        assert "driver failed programming external connectivity on endpoint " \
               f"{name} (" in err, err
        assert f"): Error starting userland proxy: listen {proto}6 [::]:{port}: bind: " \
            "address already in use" in err, err
    doc = json.loads(ok(darsed, "darse", "inspect", name))[0]
    assert doc["State"]["Running"] is False and doc["NetworkSettings"]["Ports"] == {}
    assert f" {port} :" not in _nft_ports(darsed)
    with socket.socket(socket.AF_INET6, kind) as s:  # no proxy of darsed's holds it
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.bind(("::", port))
    # once the port is free, the same container starts and holds it
    ok(darsed, cli, "start", name)
    assert [b["HostIp"] for b in ports_of(darsed, name)[f"80/{proto}"]] == ["0.0.0.0", "::"]


def _threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def _sockets(pid: int) -> int:
    n = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            n += os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")
        except OSError:
            pass
    return n


def _settle(probe, want: int, timeout: float = 5) -> int:
    deadline = time.monotonic() + timeout
    while (got := probe()) > want and time.monotonic() < deadline:
        time.sleep(0.1)
    return got


def _web(d: Darsed, busybox_rootfs: str, www: str) -> int:
    """d started, with a container "web" serving www on a published port (returned)."""
    d.start()
    d.import_busybox(busybox_rootfs)
    port = free_port()
    ok(d, "darse", "run", "-d", "--name", "web", "-p", f"{port}:80", "-v", f"{www}:/www",
       "busybox", "httpd", "-f", "-p", "80", "-h", "/www")
    return port


def test_proxy_lives_with_the_container(busybox_rootfs: str, www: str) -> None:
    """The proxy goes at stop, at a kill -9 of the container, at rm; it comes back at a
    start and with a darsed restarted while the container runs; connections open when
    the container goes are cut; no thread or socket is left."""
    d = new_daemon()
    try:
        port = _web(d, busybox_rootfs, www)
        assert http_get(f"http://[::1]:{port}/") == "hello over the proxy\n"

        # a connection open through the proxy, cut when the container stops
        held = socket.create_connection(("::1", port), timeout=5)
        ok(d, "darse", "stop", "-t", "1", "web")
        held.settimeout(5)
        assert held.recv(10) == b""  # closed, not hanging
        held.close()
        assert not answers(port)

        ok(d, "darse", "start", "web")
        assert http_get(f"http://[::1]:{port}/") == "hello over the proxy\n"
        cpid = json.loads(ok(d, "darse", "inspect", "web"))[0]["State"]["Pid"]
        os.kill(cpid, 9)  # the container dies under darsed
        deadline = time.monotonic() + 10
        while json.loads(ok(d, "darse", "inspect", "web"))[0]["State"]["Running"]:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert not answers(port)

        ok(d, "darse", "start", "web")
        d.kill(9)  # darsed dies; the container lives on
        assert not answers(port)
        d.start()
        pid = d.proc.pid
        assert http_get(f"http://[::1]:{port}/") == "hello over the proxy\n"  # re-adopted
        assert ok(d, "docker", "port", "web").splitlines() == [
            f"80/tcp -> 0.0.0.0:{port}", f"80/tcp -> :::{port}"]
        # darsed's one lasting thread for removed folders (engine/trash.py) started first,
        # so that the counts below are the proxy's alone
        ok(d, "darse", "run", "--rm", "--network", "none", "busybox", "true")
        before = _threads(pid), _sockets(pid)
        for _ in range(20):
            assert http_get(f"http://[::1]:{port}/") == "hello over the proxy\n"
        assert _settle(lambda: _threads(pid), before[0]) <= before[0]
        assert _settle(lambda: _sockets(pid), before[1]) <= before[1]
        ok(d, "darse", "rm", "-f", "web")
        assert not answers(port)
        # the proxy's listener and threads are gone with it
        assert _settle(lambda: _threads(pid), before[0] - 1) < before[0]
        assert _settle(lambda: _sockets(pid), before[1] - 1) < before[1]
    finally:
        d.stop()
        shutil.rmtree(d.base, ignore_errors=True)


def test_no_ipv6_binding_on_a_host_without_ipv6(busybox_rootfs: str) -> None:
    """dockerd 20.10 binds :: beside 0.0.0.0 only when the host can listen on [::1]
    (its IsV6Listenable): a darsed in a network namespace with IPv6 off publishes on
    0.0.0.0 alone, and a port free there only on IPv4 is no refusal."""
    d = new_daemon()
    d.wrapper = ["unshare", "--net", "sh", "-c",
                 "ip link set lo up && sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 "
                 "net.ipv6.conf.default.disable_ipv6=1 net.ipv6.conf.lo.disable_ipv6=1 && "
                 'exec "$@"', "sh"]
    try:
        d.start()
        d.import_busybox(busybox_rootfs)
        assert ok(d, "docker", "run", "-d", "--name", "v4host", "-p", "8080:80", "-P",
                  "--expose", "90/udp", "busybox", "sleep", "600")
        ports = ports_of(d, "v4host")
        assert ports["80/tcp"] == [{"HostIp": "0.0.0.0", "HostPort": "8080"}]
        assert [b["HostIp"] for b in ports["90/udp"]] == ["0.0.0.0"]
        assert ok(d, "docker", "port", "v4host", "80") == "0.0.0.0:8080\n"
        # an IPv6 address asked is bound all the same, and fails as dockerd's does
        err = refused(d, "docker", "run", "-d", "--name", "v6asked", "-p", "[::1]:8081:80",
                      "busybox", "sleep", "600")
        assert "Error starting userland proxy: listen tcp6 [::1]:8081: bind: cannot assign " \
            "requested address" in err, err
    finally:
        d.stop()
        shutil.rmtree(d.base, ignore_errors=True)


def test_twin_ports_never_collide(darsed: Darsed, names) -> None:
    """-P's port is free on [::] too: the lowest free one of the range (darse's choice)
    held by someone on [::] only is passed over, not taken and then refused."""
    names.append("twinfree")
    with socket.socket(socket.AF_INET6) as other:
        other.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        for held in range(32768, 61000):
            try:
                with socket.socket() as v4:
                    v4.bind(("0.0.0.0", held))
                other.bind(("::", held))
            except OSError:
                continue
            break
        other.listen()
        ok(darsed, "darse", "run", "-d", "--name", "twinfree", "-P", "--expose", "80",
           "busybox", "sleep", "600")
        got = {b["HostPort"] for b in ports_of(darsed, "twinfree")["80/tcp"]}
        assert len(got) == 1 and str(held) not in got


def test_ps_ports_laid_out_as_the_docker_cli(darsed: Darsed, names) -> None:
    """docker ps's PORTS with twins: runs of same-numbered ports grouped per address,
    the others after them, in the docker CLI 20.10's order (same bytes as it prints)."""
    names.append("psports")
    a, b = free_port(), free_port()
    while not (a + 1 < 61000 and all(free_port_is(p) for p in (a, a + 1))):
        a = free_port()
    ok(darsed, "docker", "run", "-d", "--name", "psports", "-p", f"{a}-{a + 1}:{a}-{a + 1}",
       "-p", f"{b}:53/udp", "-p", f"127.0.0.1:{b}:{b}", "--expose", "7000-7001", "busybox",
       "sleep", "600")
    theirs = ok(darsed, "docker", "ps", "--filter", "name=psports", "--format", "{{.Ports}}")
    for part in ("7000-7001/tcp", f"0.0.0.0:{a}-{a + 1}->{a}-{a + 1}/tcp",
                 f":::{a}-{a + 1}->{a}-{a + 1}/tcp", f"127.0.0.1:{b}->{b}/tcp",
                 f"0.0.0.0:{b}->53/udp, :::{b}->53/udp\n"):
        assert part in theirs, theirs
    assert ok(darsed, "darse", "ps", "--filter", "name=psports", "--format",
              "{{.Ports}}") == theirs


def free_port_is(port: int) -> bool:
    try:
        with socket.socket() as s:
            s.bind(("0.0.0.0", port))
        with socket.socket(socket.AF_INET6) as s:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            s.bind(("::", port))
    except OSError:
        return False
    return True


@pytest.mark.parametrize("cli", ["darse", "docker"])
def test_port_taken_on_ipv4_refuses_the_start(darsed: Darsed, names, cli: str) -> None:
    """As dockerd, whose docker-proxy binds each binding's IPv4 address first: someone's
    listener on [::] for both families, a UDP socket on 127.0.0.1, an address the host
    does not have refuse the start in its words (darse's IPv4 ports are the kernel's
    DNAT, which took the traffic from under the listener)."""
    name = f"taken4{cli}"
    names.append(name)
    tcp, udp = free_port(), free_port(socket.SOCK_DGRAM)
    with socket.socket(socket.AF_INET6) as dual, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as local:
        dual.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        dual.bind(("::", tcp))
        dual.listen()
        local.bind(("127.0.0.1", udp))
        for spec, words in ((f"{tcp}:80", f"listen tcp4 0.0.0.0:{tcp}: bind: address "
                                          "already in use"),
                            (f"{udp}:80/udp", f"listen udp4 0.0.0.0:{udp}: bind: address "
                                              "already in use"),
                            (f"192.0.2.77:{tcp}:80", f"listen tcp4 192.0.2.77:{tcp}: bind: "
                                                     "cannot assign requested address")):
            err = refused(darsed, cli, "run", "-d", "--name", name, "-p", spec, "busybox",
                          "sleep", "600")
            assert f"): Error starting userland proxy: {words}" in err, err
            assert f" {tcp} :" not in _nft_ports(darsed)
            assert f" {udp} :" not in _nft_ports(darsed)
            ok(darsed, cli, "rm", name)
        # the listener's own traffic stays its own
        with socket.create_connection(("127.0.0.1", tcp), timeout=2):
            conn, _ = dual.accept()
            conn.close()


def test_readoption_with_the_ipv6_port_taken_meanwhile(busybox_rootfs: str,
                                                       www: str) -> None:
    """A darsed restarted while someone took [::]:P from the proxy: the container's
    IPv4 port still works (re-adopted), the taker keeps its socket, darsed says why."""
    d = new_daemon()
    try:
        port = _web(d, busybox_rootfs, www)
        d.kill(9)
        with socket.socket(socket.AF_INET6) as taker:
            taker.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            taker.bind(("::", port))
            taker.listen()
            d.start()
            assert http_get(f"http://127.0.0.1:{port}/") == "hello over the proxy\n"
            with socket.create_connection(("::1", port), timeout=2):
                taker.accept()[0].close()  # the taker's, not the container's
            log = (d.base / "darsed.log").read_text()
            assert f"listen tcp6 [::]:{port}: bind: address already in use" in log
    finally:
        d.stop()
        shutil.rmtree(d.base, ignore_errors=True)


def test_ipv6_container_with_an_address_given(darsed: Darsed, names) -> None:
    """An IPv6 container too: 0.0.0.0:P:80 given is bound on 0.0.0.0 alone, Q:81 on both
    (dockerd 20.10's Ports for the same run)."""
    net = f"v6given{os.getpid()}"
    names.append("v6given")
    p, q = free_port(), free_port()
    ok(darsed, "darse", "network", "create", "--ipv6", "--subnet", unique_subnet6(), net)
    try:
        ok(darsed, "docker", "run", "-d", "--name", "v6given", "--network", net, "-p",
           f"0.0.0.0:{p}:80", "-p", f"{q}:81", "busybox", "sleep", "600")
        assert ports_of(darsed, "v6given") == {
            "80/tcp": [{"HostIp": "0.0.0.0", "HostPort": str(p)}],
            "81/tcp": [{"HostIp": "0.0.0.0", "HostPort": str(q)},
                       {"HostIp": "::", "HostPort": str(q)}]}
    finally:
        darse(darsed, "rm", "-f", "v6given")
        darse(darsed, "network", "rm", net)
