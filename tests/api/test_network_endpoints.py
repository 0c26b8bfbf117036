"""Networks at container create and connect, through the docker CLI against darsed: an
unknown network refused at create, IPAM auxiliary addresses kept, a created container
connected before its start."""

from __future__ import annotations

import json
import os

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
