"""IPv6 through the Engine API's own bodies (what docker-py and compose send): a network's
IPAM config list in any order, IPRange and AuxiliaryAddresses of its IPv6 config, an
endpoint's IPv6Address and DriverOpts by /networks/{id}/connect; and a killed darsed's
successor serving the IPv6 endpoints, their DNAT and their AAAA answers again."""

from __future__ import annotations

import ipaddress
import json
import shutil
import signal
import socket
import subprocess
from pathlib import Path

from tests.conftest import unique_subnet6
from tests.daemon import Darsed, http_get, leftover_mounts, new_daemon


def host(subnet: str, n: int) -> str:
    return str(ipaddress.ip_network(subnet)[n])


def api_json(d: Darsed, method: str, path: str, body: object = None) -> tuple[int, object]:
    status, out = d.api(method, path, body)
    return status, json.loads(out) if out else None


def test_ipam_config_list_range_aux_and_connect(darsed: Darsed) -> None:
    s6 = unique_subnet6()
    v4 = "10.251.77.0/24"
    rng = f"{host(s6, 0x100)}/120"
    aux = host(s6, 0x101)
    status, out = api_json(darsed, "POST", "/networks/create", {
        "Name": "apiv6", "EnableIPv6": True, "IPAM": {"Driver": "default", "Config": [
            {"Subnet": s6, "IPRange": rng, "AuxiliaryAddresses": {"router": aux}},
            {"Subnet": v4}]}})
    assert status == 201, out
    try:
        status, net = api_json(darsed, "GET", "/networks/apiv6")
        assert net["EnableIPv6"] is True
        # the IPv4 config first, then the IPv6 one as it was given
        assert net["IPAM"]["Config"][0]["Subnet"] == v4
        assert net["IPAM"]["Config"][1] == {"Subnet": s6, "IPRange": rng,
                                            "AuxiliaryAddresses": {"router": aux}}

        status, out = api_json(darsed, "POST", "/containers/create?name=apiv6c", {
            "Image": "busybox", "Cmd": ["sleep", "600"],
            "HostConfig": {"NetworkMode": "apiv6"}})
        assert status == 201, out
        assert darsed.api("POST", "/containers/apiv6c/start")[0] == 204
        status, doc = api_json(darsed, "GET", "/containers/apiv6c/json")
        ep = doc["NetworkSettings"]["Networks"]["apiv6"]
        # the range's first host, the auxiliary address passed over
        assert ep["GlobalIPv6Address"] == host(s6, 0x102)
        assert ep["IPv6Gateway"] == host(s6, 1)

        # connect a created (not running) container: shown at once, joined at start
        s6b = unique_subnet6()
        assert api_json(darsed, "POST", "/networks/create", {
            "Name": "apiv6b", "EnableIPv6": True,
            "IPAM": {"Config": [{"Subnet": s6b}]}})[0] == 201
        status, out = api_json(darsed, "POST", "/containers/create?name=apiv6d", {
            "Image": "busybox", "Cmd": ["sleep", "600"],
            "HostConfig": {"NetworkMode": "apiv6"}})
        assert status == 201, out
        status, out = api_json(darsed, "POST", "/networks/apiv6b/connect", {
            "Container": "apiv6d", "EndpointConfig": {
                "IPAMConfig": {"IPv6Address": host(s6b, 0x44)},
                "DriverOpts": {"com.example.k": "v"}}})
        assert status == 200, out
        status, doc = api_json(darsed, "GET", "/containers/apiv6d/json")
        ep = doc["NetworkSettings"]["Networks"]["apiv6b"]
        assert ep["IPAMConfig"] == {"IPv6Address": host(s6b, 0x44)}
        assert ep["DriverOpts"] == {"com.example.k": "v"}
        assert ep["GlobalIPv6Address"] == ""
        assert darsed.api("POST", "/containers/apiv6d/start")[0] == 204
        status, doc = api_json(darsed, "GET", "/containers/apiv6d/json")
        ep = doc["NetworkSettings"]["Networks"]["apiv6b"]
        assert (ep["GlobalIPv6Address"], ep["DriverOpts"]) == (host(s6b, 0x44),
                                                                 {"com.example.k": "v"})
        status, net = api_json(darsed, "GET", "/networks/apiv6b")
        assert [c["IPv6Address"] for c in net["Containers"].values()] == \
            [f"{host(s6b, 0x44)}/64"]

        # an address taken: refused in dockerd's words, the record as it was
        status, out = api_json(darsed, "POST", "/networks/apiv6b/connect", {
            "Container": "apiv6c", "EndpointConfig": {
                "IPAMConfig": {"IPv6Address": host(s6b, 0x44)}}})
        assert status >= 400 and out["message"] == "Address already in use", out
        status, doc = api_json(darsed, "GET", "/containers/apiv6c/json")
        assert "apiv6b" not in doc["NetworkSettings"]["Networks"]
    finally:
        for c in ("apiv6c", "apiv6d"):
            darsed.api("DELETE", f"/containers/{c}?force=1")
        for n in ("apiv6", "apiv6b"):
            darsed.api("DELETE", f"/networks/{n}")


def test_ipv6_endpoints_outlive_darsed(busybox_rootfs: str, tmp_path: Path) -> None:
    s6 = unique_subnet6()
    www = tmp_path / "www"
    www.mkdir()
    (www / "index.html").write_text("v6 after restart\n")
    tmp_path.chmod(0o755)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    d = new_daemon()
    try:
        d.start()
        d.import_busybox(busybox_rootfs)
        assert d.docker("network", "create", "--ipv6", "--subnet", s6, "keep6").returncode == 0
        assert d.docker("run", "-d", "--name", "web6", "--network", "keep6", "-p",
                        f"{port}:80", "-v", f"{www}:/www", "busybox", "httpd", "-f", "-p",
                        "80", "-h", "/www").returncode == 0
        assert d.docker("run", "-d", "--name", "asker", "--network", "keep6", "busybox",
                        "sleep", "600").returncode == 0
        assert http_get(f"http://[{host(s6, 1)}]:{port}/") == "v6 after restart\n"
        d.kill(signal.SIGKILL)  # no --cleanup: the table and bridges stay, as in real life
        d.start()
        doc = json.loads(d.docker("inspect", "web6").stdout)[0]["NetworkSettings"]
        assert doc["Networks"]["keep6"]["GlobalIPv6Address"] == host(s6, 2)
        assert http_get(f"http://[{host(s6, 1)}]:{port}/") == "v6 after restart\n"
        assert http_get(f"http://[::1]:{port}/") == "v6 after restart\n"  # the new proxy
        out = d.docker("exec", "asker", "nslookup", "-type=AAAA", "web6").stdout
        assert f"Address: {host(s6, 2)}" in out, out
        # a new container is not given the address the re-adopted one holds
        assert d.docker("run", "-d", "--name", "third", "--network", "keep6", "busybox",
                        "sleep", "600").returncode == 0
        third = json.loads(d.docker("inspect", "third").stdout)[0]["NetworkSettings"]
        assert third["Networks"]["keep6"]["GlobalIPv6Address"] == host(s6, 4)
        table = f"darse_{d.config['bridge']}"
        assert d.docker("rm", "-f", "web6").returncode == 0
        listing = subprocess.run(["nft", "list", "map", "ip6", table, "ports"],
                                 capture_output=True, text=True).stdout
        assert f"{port}" not in listing
    finally:
        d.stop()
    tables = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
    assert f"darse_{d.config['bridge']}" not in tables
    assert leftover_mounts(str(d.base)) == []
    shutil.rmtree(d.base, ignore_errors=True)
