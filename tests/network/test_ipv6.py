"""IPv6 as dockerd 20.10 does it, through darse's CLI and the unmodified docker CLI:
networks created with --ipv6 (a v4 and a v6 subnet), the bridge's IPv6 gateway,
containers' sequential IPv6 addresses and default route, --ip6 and --link-local-ip,
the inspect fields, dockerd's refusals in its words, AAAA answers of the embedded DNS,
ports published over IPv6 (ip6 nftables table), daemon.json's ipv6 and fixed-cidr-v6.
Subnets are fd00::/8 ones of the run's own (never the host's fd00::/64)."""

from __future__ import annotations

import ipaddress
import json
import re
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from tests.cli.test_cli import darse
from tests.conftest import unique_network
from tests.conftest import unique_subnet6 as subnet6
from tests.daemon import Darsed, http_get, new_daemon


def host(subnet: str, n: int) -> str:
    return str(ipaddress.ip_network(subnet)[n])


def ok(d: Darsed, *args: str) -> str:
    done = darse(d, *args)
    assert done.returncode == 0, f"darse {' '.join(args)}: {done.stderr}"
    return done.stdout


def docker_ok(d: Darsed, *args: str) -> str:
    done = d.docker(*args)
    assert done.returncode == 0, f"docker {' '.join(args)}: {done.stderr}"
    return done.stdout


def inspect(d: Darsed, *args: str) -> dict:
    return json.loads(ok(d, *args))[0]


def bridge_of(d: Darsed, net: str) -> str:
    return f"darse-{inspect(d, 'network', 'inspect', net)['Id'][:9]}"


def addresses6(ifname: str) -> list[str]:
    out = subprocess.run(["ip", "-6", "-o", "addr", "show", "dev", ifname, "scope", "global"],
                         capture_output=True, text=True).stdout
    return [line.split()[3] for line in out.splitlines()]


def link_exists(ifname: str) -> bool:
    return subprocess.run(["ip", "link", "show", ifname], capture_output=True).returncode == 0


@pytest.fixture
def cleanup(darsed: Darsed):
    """Containers and networks the test names: removed whatever happened."""
    made: dict[str, list[str]] = {"containers": [], "networks": []}
    yield made
    for c in made["containers"]:
        darse(darsed, "rm", "-f", c)
    for n in made["networks"]:
        darse(darsed, "network", "rm", n)


def test_ipv6_network_bridge_containers_and_inspect(darsed: Darsed, cleanup) -> None:
    s6 = subnet6()
    cleanup["networks"].append("v6net")
    ok(darsed, "network", "create", "--ipv6", "--subnet", s6, "v6net")
    net = inspect(darsed, "network", "inspect", "v6net")
    assert net["EnableIPv6"] is True
    v4, v6 = net["IPAM"]["Config"]
    # dockerd: a v4 subnet from the pools beside it, the v6 one shown as given
    assert ipaddress.ip_network(v4["Subnet"]).version == 4 and v4["Gateway"]
    assert v6 == {"Subnet": s6}
    bridge = bridge_of(darsed, "v6net")
    assert f"{host(s6, 1)}/64" in addresses6(bridge)

    cleanup["containers"] += ["v6c1", "v6c2"]
    ok(darsed, "run", "-d", "--name", "v6c1", "--network", "v6net", "busybox", "sleep", "600")
    docker_ok(darsed, "run", "-d", "--name", "v6c2", "--network", "v6net", "busybox",
              "sleep", "600")
    # sequential from the subnet, as dockerd's IPAM (not made from the MAC)
    for name, n in (("v6c1", 2), ("v6c2", 3)):
        settings = inspect(darsed, "inspect", name)["NetworkSettings"]
        ep = settings["Networks"]["v6net"]
        assert (ep["GlobalIPv6Address"], ep["GlobalIPv6PrefixLen"], ep["IPv6Gateway"]) == \
            (host(s6, n), 64, host(s6, 1)), ep
        assert (settings["GlobalIPv6Address"], settings["GlobalIPv6PrefixLen"],
                settings["IPv6Gateway"]) == (host(s6, n), 64, host(s6, 1))
        assert ep["IPAMConfig"] is None  # nothing asked
    # the docker CLI reads the same
    assert docker_ok(darsed, "inspect", "-f",
                     "{{.NetworkSettings.Networks.v6net.GlobalIPv6Address}}",
                     "v6c1").strip() == host(s6, 2)
    containers = inspect(darsed, "network", "inspect", "v6net")["Containers"]
    assert sorted(c["IPv6Address"] for c in containers.values()) == \
        [f"{host(s6, 2)}/64", f"{host(s6, 3)}/64"]

    out = ok(darsed, "exec", "v6c1", "sh", "-c",
             f"ip -6 route; ping6 -c1 -W2 {host(s6, 1)} >/dev/null && echo gw-ok; "
             f"ping6 -c1 -W2 {host(s6, 3)} >/dev/null && echo peer-ok")
    assert f"default via {host(s6, 1)} dev eth0" in out
    assert "gw-ok" in out and "peer-ok" in out
    # the host reaches the container over its bridge
    assert subprocess.run(["busybox", "ping", "-6", "-c1", "-W2", host(s6, 2)],
                          capture_output=True).returncode == 0

    ok(darsed, "rm", "-f", "v6c1", "v6c2")
    ok(darsed, "network", "rm", "v6net")
    assert not link_exists(bridge)


def test_gateway_ip6_link_local_and_driver_opts(darsed: Darsed, cleanup) -> None:
    s6 = subnet6()
    gw = host(s6, 0xfe)
    cleanup["networks"].append("v6gw")
    ok(darsed, "network", "create", "--ipv6", "--subnet", s6, "--gateway", gw, "v6gw")
    assert inspect(darsed, "network", "inspect", "v6gw")["IPAM"]["Config"][1] == \
        {"Subnet": s6, "Gateway": gw}
    assert f"{gw}/64" in addresses6(bridge_of(darsed, "v6gw"))

    cleanup["containers"] += ["ll1", "ll2"]
    ok(darsed, "run", "-d", "--name", "ll1", "--network", "v6gw", "--ip6", host(s6, 0x99),
       "--link-local-ip", "169.254.9.9", "--link-local-ip", "fe80::99", "busybox",
       "sleep", "600")
    docker_ok(darsed, "run", "-d", "--name", "ll2", "--network", "v6gw", "--ip6",
              host(s6, 0x98), "--link-local-ip", "169.254.9.8", "--link-local-ip", "fe80::98",
              "busybox", "sleep", "600")
    for name, n in (("ll1", "9"), ("ll2", "8")):
        ep = inspect(darsed, "inspect", name)["NetworkSettings"]["Networks"]["v6gw"]
        assert ep["IPAMConfig"] == {"IPv6Address": host(s6, int(f"9{n}", 16)),
                                    "LinkLocalIPs": [f"169.254.9.{n}", f"fe80::9{n}"]}
        assert (ep["GlobalIPv6Address"], ep["IPv6Gateway"]) == (host(s6, int(f"9{n}", 16)),
                                                                  gw)
        out = ok(darsed, "exec", name, "sh", "-c", "ip -o addr show eth0; ip -6 route")
        assert f"inet 169.254.9.{n}/16" in out and f"inet6 fe80::9{n}/64" in out
        assert f"inet6 {host(s6, int(f'9{n}', 16))}/64" in out
        assert f"default via {gw} dev eth0" in out

    # connect: --ip6, --link-local-ip and --driver-opt, kept and shown as dockerd does
    s6b = subnet6()
    cleanup["networks"].append("v6other")
    docker_ok(darsed, "network", "create", "--ipv6", "--subnet", s6b, "v6other")
    docker_ok(darsed, "network", "connect", "--ip6", host(s6b, 0x55), "--link-local-ip",
              "169.254.5.5", "--driver-opt", "com.example.x=y", "v6other", "ll2")
    ep = inspect(darsed, "inspect", "ll2")["NetworkSettings"]["Networks"]["v6other"]
    assert ep["IPAMConfig"] == {"IPv6Address": host(s6b, 0x55), "LinkLocalIPs": ["169.254.5.5"]}
    assert ep["DriverOpts"] == {"com.example.x": "y"}
    assert ep["GlobalIPv6Address"] == host(s6b, 0x55)
    assert f"inet6 {host(s6b, 0x55)}/64" in ok(darsed, "exec", "ll2", "ip", "-o", "addr",
                                                  "show", "eth1")
    # and darse's CLI the same
    ok(darsed, "network", "connect", "--ip6", host(s6b, 0x56), "--link-local-ip",
       "169.254.5.6", "--driver-opt", "com.example.x=z", "v6other", "ll1")
    ep = inspect(darsed, "inspect", "ll1")["NetworkSettings"]["Networks"]["v6other"]
    assert ep["IPAMConfig"] == {"IPv6Address": host(s6b, 0x56), "LinkLocalIPs": ["169.254.5.6"]}
    assert (ep["DriverOpts"], ep["GlobalIPv6Address"]) == ({"com.example.x": "z"},
                                                           host(s6b, 0x56))

    # DriverOpts of a create's EndpointsConfig
    status, out = darsed.api("POST", "/containers/create?name=dopts", {
        "Image": "busybox", "Cmd": ["sleep", "600"], "HostConfig": {"NetworkMode": "v6gw"},
        "NetworkingConfig": {"EndpointsConfig": {"v6gw": {
            "DriverOpts": {"com.example.a": "b"}, "IPAMConfig": {"LinkLocalIPs": ["fe80::7"]}}}}})
    cleanup["containers"].append("dopts")
    assert status == 201, out
    ok(darsed, "start", "dopts")
    ep = inspect(darsed, "inspect", "dopts")["NetworkSettings"]["Networks"]["v6gw"]
    assert ep["DriverOpts"] == {"com.example.a": "b"}
    assert ep["IPAMConfig"] == {"LinkLocalIPs": ["fe80::7"]}
    assert ep["GlobalIPv6Address"] == host(s6, 1)  # the lowest free (the gateway is ::fe)


def _refused(d: Darsed, cli: str, *args: str) -> str:
    done = darse(d, *args) if cli == "darse" else d.docker(*args)
    assert done.returncode != 0, f"{cli} {' '.join(args)} was accepted"
    return done.stderr


@pytest.mark.parametrize("cli", ["darse", "docker"])
def test_refusals_in_dockerds_words(darsed: Darsed, cleanup, cli: str) -> None:
    s6, other = subnet6(), subnet6()
    name = f"v6r{cli}"
    cleanup["networks"].append(name)
    ok(darsed, "network", "create", "--ipv6", "--subnet", s6, name)
    before = ok(darsed, "network", "ls", "-q")
    inner = f"{host(s6, 0)}/80"
    for args, message in (
            (("--ipv6", "--subnet", inner), "Pool overlaps with other one on this address space"),
            (("--ipv6",), "could not find an available, non-overlapping IPv6 address pool among "
                          "the defaults to assign to the network"),
            (("--ipv6", "--subnet", other, "--subnet", subnet6()),
             "bridge driver doesn't support multiple subnets"),
            (("--ipv6", "--subnet", other, "--gateway", host(s6, 5)),
             f"no matching subnet for gateway {host(s6, 5)}")):
        err = _refused(darsed, cli, "network", "create", *args, f"{name}x")
        assert message in err, err
    assert ok(darsed, "network", "ls", "-q") == before  # nothing made

    taken = f"{name}taken"
    cleanup["containers"].append(taken)
    ok(darsed, "run", "-d", "--name", taken, "--network", name, "--ip6", host(s6, 9),
       "busybox", "sleep", "600")
    for i, (args, message) in enumerate((
            (("--network", name, "--ip6", "zzz"), "invalid IPv6 address: zzz"),
            (("--network", name, "--ip6", "10.1.1.1"), "invalid IPv6 address: 10.1.1.1"),
            (("--network", name, "--link-local-ip", "zzz"),
             "Invalid link-local IP address: [zzz]"),
            (("--network", name, "--ip6", host(other, 5)),
             f"Invalid address {host(other, 5)}: It does not belong to any of this network's "
             f"subnets"),
            (("--network", name, "--ip6", host(s6, 9)), "Address already in use"),
            (("--ip6", host(s6, 7)),
             "user specified IP address is supported on user defined networks only"))):
        if cli == "docker" and "--network" not in args:
            continue  # the docker 20.10 CLI sends no endpoint for the default network
        cname = f"{name}r{i}"
        cleanup["containers"].append(cname)
        err = _refused(darsed, cli, "run", "-d", "--name", cname, *args, "busybox", "true")
        assert message in err, err


def test_v6_subnet_without_ipv6_is_held_not_used(darsed: Darsed, cleanup) -> None:
    """dockerd 20.10 takes an IPv6 subnet without --ipv6: kept in the record (its pool
    held), no address from it; an --ip6 there is kept in IPAMConfig, and ignored."""
    s6 = subnet6()
    cleanup["networks"].append("v6off")
    docker_ok(darsed, "network", "create", "--subnet", s6, "v6off")
    net = inspect(darsed, "network", "inspect", "v6off")
    assert net["EnableIPv6"] is False and net["IPAM"]["Config"][1] == {"Subnet": s6}
    assert addresses6(bridge_of(darsed, "v6off")) == []
    err = _refused(darsed, "darse", "network", "create", "--ipv6", "--subnet", s6, "v6off2")
    assert "Pool overlaps with other one on this address space" in err
    cleanup["containers"].append("off1")
    ok(darsed, "run", "-d", "--name", "off1", "--network", "v6off", "--ip6", host(s6, 5),
       "busybox", "sleep", "600")
    ep = inspect(darsed, "inspect", "off1")["NetworkSettings"]["Networks"]["v6off"]
    assert ep["IPAMConfig"] == {"IPv6Address": host(s6, 5)}
    assert (ep["GlobalIPv6Address"], ep["IPv6Gateway"]) == ("", "")
    assert "scope global" not in ok(darsed, "exec", "off1", "ip", "-6", "addr", "show", "eth0")


def test_embedded_dns_answers_aaaa(darsed: Darsed, cleanup) -> None:
    s6 = subnet6()
    cleanup["networks"].append("v6dns")
    cleanup["containers"] += ["dns1", "dns2"]
    ok(darsed, "network", "create", "--ipv6", "--subnet", s6, "v6dns")
    ok(darsed, "run", "-d", "--name", "dns1", "--network", "v6dns", "busybox", "sleep", "600")
    ok(darsed, "run", "-d", "--name", "dns2", "--network", "v6dns", "busybox", "sleep", "600")
    out = ok(darsed, "exec", "dns1", "nslookup", "-type=AAAA", "dns2")
    assert f"Address: {host(s6, 3)}" in out, out
    out = ok(darsed, "exec", "dns1", "nslookup", "-type=A", "dns2.v6dns")
    assert f"Address: {inspect(darsed, 'inspect', 'dns2')['NetworkSettings']['IPAddress']}" \
        in out
    out = ok(darsed, "exec", "dns1", "sh", "-c", "ping6 -c1 -W2 dns2 && cat /etc/hosts")
    assert f"({host(s6, 3)})" in out
    # as dockerd: /etc/hosts names the container by its IPv6 address too
    cid = inspect(darsed, "inspect", "dns1")["Id"][:12]
    assert f"{host(s6, 2)}\t{cid}" in out
    # PTR of an IPv6 address: name.network
    out = ok(darsed, "exec", "dns1", "nslookup", host(s6, 3))
    assert "dns2.v6dns" in out, out


def _host_v6() -> str:
    """A global IPv6 address of the host outside darse's bridges (its own interface)."""
    out = subprocess.run(["ip", "-6", "-o", "route", "get", "2001:db8::1"],
                         capture_output=True, text=True).stdout.split()
    return out[out.index("src") + 1] if "src" in out else ""


def test_published_port_over_ipv6(darsed: Darsed, cleanup, tmp_path: Path) -> None:
    s6 = subnet6()
    (tmp_path / "index.html").write_text("hello over ipv6\n")
    tmp_path.chmod(0o755)
    cleanup["networks"].append("v6pub")
    cleanup["containers"].append("v6web")
    ok(darsed, "network", "create", "--ipv6", "--subnet", s6, "v6pub")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ok(darsed, "run", "-d", "--name", "v6web", "--network", "v6pub", "-p", f"{port}:80", "-v",
       f"{tmp_path}:/www", "busybox", "httpd", "-f", "-p", "80", "-h", "/www")
    ports = inspect(darsed, "inspect", "v6web")["NetworkSettings"]["Ports"]
    assert ports == {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": str(port)},
                                {"HostIp": "::", "HostPort": str(port)}]}
    assert docker_ok(darsed, "port", "v6web").splitlines() == [
        f"80/tcp -> 0.0.0.0:{port}", f"80/tcp -> :::{port}"]
    # over IPv6 to the host's addresses (the bridge's gateway, the host's own, ::1 as
    # dockerd's userland proxy serves it), and IPv4
    assert http_get(f"http://[{host(s6, 1)}]:{port}/") == "hello over ipv6\n"
    assert http_get(f"http://[::1]:{port}/") == "hello over ipv6\n"
    own = _host_v6()
    if own:
        assert http_get(f"http://[{own}]:{port}/") == "hello over ipv6\n"
    assert http_get(f"http://127.0.0.1:{port}/") == "hello over ipv6\n"
    table = f"darse_{darsed.config['bridge']}"
    listing = subprocess.run(["nft", "list", "map", "ip6", table, "ports"],
                             capture_output=True, text=True).stdout
    assert f"tcp . {port} : {host(s6, 2)} . 80" in listing
    ok(darsed, "rm", "-f", "v6web")
    listing = subprocess.run(["nft", "list", "map", "ip6", table, "ports"],
                             capture_output=True, text=True).stdout
    assert f"{port}" not in listing
    with pytest.raises(OSError):  # no one listens on [::1]:port any more
        socket.create_connection(("::1", port), timeout=2).close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("cli", ["darse", "docker"])
def test_port_published_on_one_ipv6_address(darsed: Darsed, cleanup, tmp_path: Path,
                                            cli: str) -> None:
    s6 = subnet6()
    (tmp_path / "index.html").write_text("one address\n")
    tmp_path.chmod(0o755)
    net, web, plain = f"v6one{cli}", f"v6one{cli}web", f"v6one{cli}plain"
    cleanup["networks"].append(net)
    cleanup["containers"] += [web, plain]
    ok(darsed, "network", "create", "--ipv6", "--subnet", s6, net)
    port = _free_port()
    run = (lambda *a: ok(darsed, *a)) if cli == "darse" else (lambda *a: docker_ok(darsed, *a))
    run("run", "-d", "--name", web, "--network", net, "-p", f"[{host(s6, 1)}]:{port}:80", "-v",
        f"{tmp_path}:/www", "busybox", "httpd", "-f", "-p", "80", "-h", "/www")
    ports = inspect(darsed, "inspect", web)["NetworkSettings"]["Ports"]
    assert ports == {"80/tcp": [{"HostIp": host(s6, 1), "HostPort": str(port)}]}
    assert http_get(f"http://[{host(s6, 1)}]:{port}/") == "one address\n"
    table = f"darse_{darsed.config['bridge']}"
    listing = subprocess.run(["nft", "list", "map", "ip6", table, "host_ports"],
                             capture_output=True, text=True).stdout
    assert f"{host(s6, 1)} . tcp . {port} : {host(s6, 2)} . 80" in listing
    # a container with no IPv6 address: carried to its IPv4 one by darsed's proxy, as
    # dockerd's docker-proxy (tests/network/test_ipv6_proxy.py)
    loop = _free_port()
    run("run", "-d", "--name", plain, "-p", f"[::1]:{loop}:80", "-v", f"{tmp_path}:/www",
        "busybox", "httpd", "-f", "-p", "80", "-h", "/www")
    assert inspect(darsed, "inspect", plain)["NetworkSettings"]["Ports"] == {
        "80/tcp": [{"HostIp": "::1", "HostPort": str(loop)}]}
    assert http_get(f"http://[::1]:{loop}/") == "one address\n"


def test_daemon_json_ipv6_default_bridge(busybox_rootfs: str) -> None:
    s6 = subnet6()
    bridge, bip = unique_network()
    d = new_daemon()
    (d.base / "daemon.json").write_text(json.dumps({"bridge": bridge, "bip": bip,
                                                     "ipv6": True, "fixed-cidr-v6": s6}))
    try:
        d.start()
        d.import_busybox(busybox_rootfs)
        net = inspect(d, "network", "inspect", "bridge")
        assert net["EnableIPv6"] is True
        assert net["IPAM"]["Config"][1] == {"Subnet": s6}
        assert f"{host(s6, 1)}/64" in addresses6(bridge)
        ok(d, "run", "-d", "--name", "b1", "busybox", "sleep", "600")
        settings = inspect(d, "inspect", "b1")["NetworkSettings"]
        # dockerd's fixed-cidr-v6: the prefix, then the MAC (02:42:0a:..: ::242:a..)
        mac = settings["MacAddress"].split(":")
        made = ipaddress.ip_address(ipaddress.ip_network(s6).network_address.packed[:10] +
                                    bytes(int(b, 16) for b in mac))
        assert (settings["GlobalIPv6Address"], settings["IPv6Gateway"]) == \
            (str(made), host(s6, 1))
        assert docker_ok(d, "inspect", "-f", "{{.NetworkSettings.GlobalIPv6Address}}",
                         "b1").strip() == str(made)
        out = ok(d, "exec", "b1", "sh", "-c", f"ip -6 route; ping6 -c1 -W2 {host(s6, 1)} "
                                             f">/dev/null && echo gw-ok")
        assert f"default via {host(s6, 1)}" in out and "gw-ok" in out
    finally:
        d.stop()
        shutil.rmtree(d.base, ignore_errors=True)
    assert not link_exists(bridge)
    tables = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
    assert f"darse_{bridge}" not in tables


@pytest.mark.parametrize("conf, message", [
    ({"ipv6": True, "fixed-cidr-v6": "zzz"},
     "Error initializing network controller: invalid CIDR address: zzz"),
    ({"ipv6": True}, "Error initializing network controller: IPv6 is enabled for the default "
                     "bridge, but no subnet is configured. Specify an IPv6 subnet using "
                     "--fixed-cidr-v6"),
    ({"ipv6": True, "fixed-cidr-v6": "10.1.0.0/16"}, "is not an IPv6 subnet")])
def test_bad_ipv6_daemon_config_stops_darsed(conf: dict, message: str) -> None:
    """As dockerd 20.10 refuses to start (its words), before anything is made."""
    bridge, bip = unique_network()
    d = new_daemon()
    (d.base / "daemon.json").write_text(json.dumps({"bridge": bridge, "bip": bip, **conf}))
    try:
        with pytest.raises(RuntimeError, match=re.escape(message)):
            d.start()
    finally:
        d.stop()
        shutil.rmtree(d.base, ignore_errors=True)
    assert not link_exists(bridge)


@pytest.mark.parametrize("cli", ["darse", "docker"])
def test_ipv4_address_refusals_in_dockerd_20_10s_words(darsed: Darsed, cleanup,
                                                       cli: str) -> None:
    """The same mistakes with IPv4 addresses, in the words of dockerd 20.10."""
    _, bip = unique_network()
    v4 = str(ipaddress.ip_interface(bip).network)
    name, auto = f"v4r{cli}", f"v4auto{cli}"
    cleanup["networks"] += [name, auto]
    ok(darsed, "network", "create", "--subnet", v4, name)
    ok(darsed, "network", "create", auto)
    taken = f"{name}taken"
    cleanup["containers"].append(taken)
    ok(darsed, "run", "-d", "--name", taken, "--network", name, "--ip", host(v4, 9),
       "busybox", "sleep", "600")
    for i, (args, message) in enumerate((
            (("--network", name, "--ip", "zzz"), "invalid IPv4 address: zzz"),
            (("--network", name, "--ip", "10.254.254.5"),
             "Invalid address 10.254.254.5: It does not belong to any of this network's "
             "subnets"),
            (("--network", name, "--ip", host(v4, 9)), "Address already in use"),
            (("--network", auto, "--ip", "172.30.0.9"),
             "user specified IP address is supported only when connecting to networks with "
             "user configured subnets"))):
        cname = f"{name}r{i}"
        cleanup["containers"].append(cname)
        err = _refused(darsed, cli, "run", "-d", "--name", cname, *args, "busybox", "true")
        assert f"Error response from daemon: {message}" in err, err
    cleanup["containers"].append(f"{name}idle")
    ok(darsed, "create", "--name", f"{name}idle", "busybox", "sleep", "600")
    err = _refused(darsed, cli, "network", "connect", "--ip", "172.30.0.9", auto,
                   f"{name}idle")
    assert "user specified IP address is supported only when connecting to networks with " \
        "user configured subnets" in err
    assert auto not in inspect(darsed, "inspect", f"{name}idle")["NetworkSettings"]["Networks"]


def test_loopback_port_taken_refused_in_dockerds_words(darsed: Darsed, cleanup) -> None:
    """[::1]:PORT is served by a listening socket on [::]:PORT, as dockerd's proxy: a
    port someone else listens on at [::1] refuses the start in dockerd's words (its
    docker-proxy's bind of [::] fails), and leaves nothing."""
    s6 = subnet6()
    cleanup["networks"].append("v6busy")
    cleanup["containers"].append("v6busyc")
    ok(darsed, "network", "create", "--ipv6", "--subnet", s6, "v6busy")
    with socket.socket(socket.AF_INET6) as other:
        other.bind(("::1", 0))
        other.listen()
        port = other.getsockname()[1]
        err = _refused(darsed, "darse", "run", "-d", "--name", "v6busyc", "--network",
                       "v6busy", "-p", f"{port}:80", "busybox", "sleep", "600")
        assert f"Error starting userland proxy: listen tcp6 [::]:{port}: bind: address " \
            "already in use" in err, err
    table = f"darse_{darsed.config['bridge']}"
    for family in ("ip", "ip6"):
        listing = subprocess.run(["nft", "list", "map", family, table, "ports"],
                                 capture_output=True, text=True).stdout
        assert f" {port} :" not in listing
    assert inspect(darsed, "inspect", "v6busyc")["State"]["Running"] is False


def test_ipv6_off_in_containers_without_an_ipv6_network(darsed: Darsed, cleanup) -> None:
    """As dockerd 20.10: a container's namespace has IPv6 off (no ::1 on lo) unless one
    of its networks is IPv6; an IPv6 network connected later turns its interface and lo
    on."""
    s6 = subnet6()
    cleanup["networks"] += ["v4only", "v6late"]
    cleanup["containers"] += ["off6", "on6"]
    ok(darsed, "network", "create", "v4only")
    ok(darsed, "network", "create", "--ipv6", "--subnet", s6, "v6late")
    probe = ("for i in all default lo eth0; do echo $i $(cat /proc/sys/net/ipv6/conf/$i/"
             "disable_ipv6); done; ip -6 addr show lo")
    out = ok(darsed, "run", "--rm", "busybox", "sh", "-c", probe)
    assert out.splitlines()[:4] == ["all 1", "default 1", "lo 1", "eth0 1"] and "::1" not in out
    out = ok(darsed, "run", "--rm", "--network", "v6late", "busybox", "sh", "-c", probe)
    assert out.splitlines()[:4] == ["all 1", "default 1", "lo 0", "eth0 0"] and "::1/128" in out
    ok(darsed, "run", "-d", "--name", "off6", "--network", "v4only", "busybox", "sleep", "600")
    ok(darsed, "network", "connect", "v6late", "off6")
    out = ok(darsed, "exec", "off6", "sh", "-c", probe + "; ip -6 addr show eth1")
    assert out.splitlines()[2:4] == ["lo 0", "eth0 1"], out
    assert "::1/128" in out and f"{host(s6, 2)}/64" in out


def test_ipv6_networks_are_isolated_and_internal_has_no_way_out(darsed: Darsed,
                                                                cleanup) -> None:
    """The ip6 table does for IPv6 what the ip one does for IPv4: no traffic between two
    networks' bridges, none in or out of an --internal one (and no default route)."""
    sa, sb, si = subnet6(), subnet6(), subnet6()
    cleanup["networks"] += ["v6isoa", "v6isob", "v6int"]
    cleanup["containers"] += ["isoa", "isob", "isoi"]
    ok(darsed, "network", "create", "--ipv6", "--subnet", sa, "v6isoa")
    ok(darsed, "network", "create", "--ipv6", "--subnet", sb, "v6isob")
    ok(darsed, "network", "create", "--ipv6", "--internal", "--subnet", si, "v6int")
    for name, net in (("isoa", "v6isoa"), ("isob", "v6isob"), ("isoi", "v6int")):
        ok(darsed, "run", "-d", "--name", name, "--network", net, "busybox", "sleep", "600")
    ping = "ping6 -c1 -W1 {} >/dev/null && echo reached || echo blocked"
    assert ok(darsed, "exec", "isoa", "sh", "-c", ping.format(host(sa, 1))) == "reached\n"
    assert ok(darsed, "exec", "isoa", "sh", "-c", ping.format(host(sb, 2))) == "blocked\n"
    assert ok(darsed, "exec", "isob", "sh", "-c", ping.format(host(sa, 2))) == "blocked\n"
    out = ok(darsed, "exec", "isoi", "ip", "-6", "route")
    assert "default" not in out and f"{si.split('/')[0]}/64 dev eth0" in out
    # the other way in: from a network's container to the internal one's (routed by the
    # host once it has a route)
    assert ok(darsed, "exec", "isoa", "sh", "-c", ping.format(host(si, 2))) == "blocked\n"
