"""Networks at container create and connect, through the docker CLI against darsed: an
unknown network refused at create, IPAM auxiliary addresses kept, a created container
connected before its start."""

from __future__ import annotations

import json
import os

import pytest

from tests.daemon import Darsed


def test_unknown_network_refused_at_start(docker: Darsed) -> None:
    # As dockerd 20.10 (checked on a private one): the create is recorded, its start is
    # refused with a 404; a 404 at create would send docker's CLI pulling the image.
    done = docker.docker("create", "--network", "nosuchnet", "--name", "lost", "busybox")
    assert done.returncode == 0, done.stderr
    status, out = docker.api("POST", "/containers/create?name=lost2", {
        "Image": "busybox", "NetworkingConfig": {"EndpointsConfig": {"nosuchnet2": {}}}})
    assert status == 201, out
    try:
        done = docker.docker("start", "lost")
        assert done.returncode != 0
        assert "Error response from daemon: network nosuchnet not found" in done.stderr
        status, out = docker.api("POST", "/containers/lost2/start")
        assert (status, json.loads(out)["message"]) == (404, "network nosuchnet2 not found")
        states = docker.docker("ps", "-a", "--filter", "name=lost", "--format",
                               "{{.Names}} {{.State}}").stdout.split("\n")
        assert sorted(s for s in states if s) == ["lost created", "lost2 created"]
    finally:
        docker.docker("rm", "-f", "lost", "lost2")


def test_aux_addresses_and_connect_before_start(docker: Darsed) -> None:
    n = os.getpid() % 200
    subnet = f"10.246.{n}.0/24"
    done = docker.docker("network", "create", "--subnet", subnet, "--aux-address",
                         f"router=10.246.{n}.2", "auxnet")
    assert done.returncode == 0, done.stderr
    try:
        conf = json.loads(docker.docker("network", "inspect", "--format",
                                        "{{json .IPAM.Config}}", "auxnet").stdout)
        assert len(conf) == 1 and conf[0]["Subnet"] == subnet
        assert conf[0]["AuxiliaryAddresses"] == {"router": f"10.246.{n}.2"}
        done = docker.docker("create", "--name", "late", "busybox", "sleep", "100")
        assert done.returncode == 0, done.stderr
        done = docker.docker("network", "connect", "--alias", "lateone", "auxnet", "late")
        assert done.returncode == 0, done.stderr
        nets = json.loads(docker.docker("inspect", "--format", "{{json .NetworkSettings"
                                        ".Networks}}", "late").stdout)
        assert sorted(nets) == ["auxnet", "bridge"]
        assert docker.docker("start", "late").returncode == 0
        nets = json.loads(docker.docker("inspect", "--format", "{{json .NetworkSettings"
                                        ".Networks}}", "late").stdout)
        ip = nets["auxnet"]["IPAddress"]
        assert ip.startswith(f"10.246.{n}.") and ip != f"10.246.{n}.2"
        assert "lateone" in nets["auxnet"]["Aliases"]
        addrs = docker.docker("exec", "late", "ip", "-4", "-o", "addr").stdout
        assert f"inet {ip}/24" in addrs
        assert nets["bridge"]["IPAddress"] and f"inet {nets['bridge']['IPAddress']}/" in addrs
    finally:
        docker.docker("rm", "-f", "late")
        docker.docker("network", "rm", "auxnet")


def test_endpoint_config_shown_before_start_and_links_on_a_user_network(
        darsed: Darsed) -> None:
    """What EndpointSettings asked (aliases, links, address, MAC, driver options) is what
    inspect shows of a created container and of one connected before its start, as
    dockerd 20.10 shows them (checked on a private one through docker-py); a link of a
    user-defined network's endpoint is kept and names the linked container in the
    linking one's DNS only (docker-py's test_create_with_links, test_connect_with_links,
    test_connect_with_mac_address)."""
    import docker as dockerpy

    api = dockerpy.APIClient(base_url=darsed.host, version="1.41")
    n = os.getpid() % 200
    names = ("epnet1", "epnet2")
    made: list[str] = []
    try:
        api.create_network(names[0], ipam=dockerpy.types.IPAMConfig(pool_configs=[
            dockerpy.types.IPAMPool(subnet=f"10.247.{n}.0/24")]))
        api.create_network(names[1])
        ct = api.create_container(
            "busybox", "top", host_config=api.create_host_config(network_mode=names[0]),
            networking_config=api.create_networking_config({
                names[0]: api.create_endpoint_config(
                    aliases=["al1"], links=[("upstream1", "bar")],
                    ipv4_address=f"10.247.{n}.9", mac_address="02:42:ac:11:00:07",
                    driver_opt={"k": "v"})}))["Id"]
        made.append(ct)

        def shown(net: str) -> dict:
            ep = api.inspect_container(ct)["NetworkSettings"]["Networks"][net]
            return {k: ep[k] for k in ("IPAMConfig", "Links", "Aliases", "MacAddress",
                                       "DriverOpts")}

        assert shown(names[0]) == {
            "IPAMConfig": {"IPv4Address": f"10.247.{n}.9"}, "Links": ["upstream1:bar"],
            "Aliases": ["al1"], "MacAddress": "02:42:ac:11:00:07", "DriverOpts": {"k": "v"}}
        api.connect_container_to_network(ct, names[1], links=[("upstream2", "baz")],
                                         mac_address="02:42:ac:11:00:08")
        assert shown(names[1])["Links"] == ["upstream2:baz"]
        assert shown(names[1])["MacAddress"] == "02:42:ac:11:00:08"
        with pytest.raises(dockerpy.errors.APIError) as bad:
            api.connect_container_to_network(ct, "bridge", mac_address="01:00:00:00:00:01")
        assert "invalid MAC address: 01:00:00:00:00:01 is a multicast address" in str(
            bad.value)
        api.start(ct)
        assert shown(names[0])["Links"] == ["upstream1:bar"]
        assert shown(names[1])["Links"] == ["upstream2:baz"]
        up = api.create_container("busybox", "top", name="upstream1",
                                  host_config=api.create_host_config(network_mode=names[0]))
        made.append(up["Id"])
        api.start(up)
        address = api.inspect_container(up)["NetworkSettings"]["Networks"][names[0]][
            "IPAddress"]
        found = api.exec_start(api.exec_create(ct, ["nslookup", "bar"]))
        assert address.encode() in found, found
        # the alias is the linking container's: the linked one does not know it
        found = api.exec_start(api.exec_create(up, ["nslookup", "bar"]))
        assert address.encode() not in found, found
    finally:
        for c in made:
            api.remove_container(c, force=True)
        for name in names:
            try:
                api.remove_network(name)
            except dockerpy.errors.NotFound:
                pass
        api.close()
