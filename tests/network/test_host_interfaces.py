"""darse touches only the host interfaces, namespaces and nftables tables it made: a
bridge name (network option or daemon.json "bridge") that names an interface which is not
a bridge is refused as Docker does; a bridge someone else made is used but never
re-addressed nor deleted; a foreign nftables table or namespace is left alone.

(The interfaces are ifb devices and bridges of the test's own, never lo: a regression must not
take the machine's loopback away from everyone else.)"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

from darse import syscalls
from darse.network import netns
from tests.cli.test_cli import darse
from tests.daemon import Darsed, leftover_mounts, new_daemon

N = os.getpid() % 250
_count = [0]


def ip(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True)


def exists(name: str) -> bool:
    return ip("link", "show", "dev", name).returncode == 0


def ipv4(name: str) -> list[str]:
    out = ip("-4", "-o", "addr", "show", "dev", name)
    assert out.returncode == 0, out.stderr
    return sorted(line.split()[3] for line in out.stdout.splitlines())


@contextmanager
def host_link(kind: str, *addresses: str) -> Iterator[str]:
    """An interface of the test's own (as a user or another program would make it)."""
    _count[0] += 1
    name = f"dzh{os.getpid() % 10000}{kind[0]}{_count[0]}"
    assert ip("link", "add", name, "type", kind).returncode == 0
    try:
        for a in addresses:
            assert ip("addr", "add", a, "dev", name).returncode == 0
        assert ip("link", "set", name, "up").returncode == 0
        yield name
    finally:
        ip("link", "del", name)


def fails(d: Darsed, *args: str) -> str:
    done = darse(d, *args)
    assert done.returncode != 0, f"darse {' '.join(args)} succeeded: {done.stdout}"
    return done.stderr.strip()


def ok(d: Darsed, *args: str) -> str:
    done = darse(d, *args)
    assert done.returncode == 0, f"darse {' '.join(args)}: {done.stderr}"
    return done.stdout


def names(d: Darsed) -> list[str]:
    return ok(d, "network", "ls", "--format", "{{.Name}}").split()


def test_an_interface_that_is_not_a_bridge_is_refused(darsed: Darsed) -> None:
    with host_link("ifb", f"10.251.{N}.1/24") as dummy:
        err = fails(darsed, "network", "create", "-o",
                    f"com.docker.network.bridge.name={dummy}", "notabridge")
        assert err == f"Error response from daemon: existing interface {dummy} is not a bridge"
        assert ipv4(dummy) == [f"10.251.{N}.1/24"]
        assert "notabridge" not in names(darsed)
        assert exists(dummy)


def test_a_bridge_darse_did_not_make_is_used_as_it_is(darsed: Darsed) -> None:
    """No --subnet: the network takes the bridge's address (as dockerd does for its -b
    bridge). Containers join it; network rm leaves it, with its address."""
    with host_link("bridge", f"10.251.{N}.1/24") as br:
        ok(darsed, "network", "create", "-o", f"com.docker.network.bridge.name={br}", "theirs")
        try:
            ipam = json.loads(ok(darsed, "network", "inspect", "-f", "{{json .IPAM.Config}}",
                                 "theirs"))
            assert ipam == [{"Subnet": f"10.251.{N}.0/24", "Gateway": f"10.251.{N}.1"}]
            assert ipv4(br) == [f"10.251.{N}.1/24"]
            out = ok(darsed, "run", "--rm", "--network", "theirs", "busybox", "ip", "-4", "-o",
                     "addr", "show", "eth0")
            assert f"inet 10.251.{N}.2/24" in out
            inspect = json.loads(ok(darsed, "network", "inspect", "theirs"))[0]
            assert not [k for k in inspect if k.startswith("_")]  # darse's record stays inside
        finally:
            ok(darsed, "network", "rm", "theirs")
        assert exists(br)
        assert ipv4(br) == [f"10.251.{N}.1/24"]


def test_a_foreign_bridge_is_never_readdressed(darsed: Darsed) -> None:
    with host_link("bridge", f"10.251.{N}.1/24") as br:
        err = fails(darsed, "network", "create", "--subnet", f"10.252.{N}.0/24", "-o",
                    f"com.docker.network.bridge.name={br}", "other")
        assert err == (f"Error response from daemon: bridge {br} was not created by darse "
                       f"and holds 10.251.{N}.1/24, not the gateway 10.252.{N}.1/24: darse "
                       f"does not change the addresses of an interface it did not create")
        assert ipv4(br) == [f"10.251.{N}.1/24"]
        assert "other" not in names(darsed)


def test_a_bare_foreign_bridge_gets_the_gateway_and_loses_only_it(darsed: Darsed) -> None:
    with host_link("bridge") as br:
        ok(darsed, "network", "create", "--subnet", f"10.252.{N}.0/24", "-o",
           f"com.docker.network.bridge.name={br}", "bare")
        assert ipv4(br) == [f"10.252.{N}.1/24"]
        ok(darsed, "network", "rm", "bare")
        assert exists(br) and ipv4(br) == []


def test_only_the_bridges_darse_made_are_deleted(darsed: Darsed) -> None:
    name = f"dzh{os.getpid() % 10000}own"
    ok(darsed, "network", "create", "-o", f"com.docker.network.bridge.name={name}", "mine")
    assert exists(name)
    ok(darsed, "network", "rm", "mine")
    assert not exists(name)


def _start_refused(d: Darsed) -> tuple[str, bool]:
    """darsed's log, and whether a shim was started, for a darsed that must not start."""
    try:
        d.start()
    except RuntimeError:
        return ((d.base / "darsed.log").read_text(),
                os.path.exists(os.path.join(d.exec_root, "shim.pid")))
    finally:
        d.stop()
        assert leftover_mounts(str(d.base)) == []
        shutil.rmtree(d.base, ignore_errors=True)
    raise AssertionError("darsed started")


def test_daemon_bridge_that_is_not_a_bridge_is_refused() -> None:
    d = new_daemon()
    with host_link("ifb", f"10.251.{N}.1/24") as dummy:
        (d.base / "daemon.json").write_text(json.dumps({"bridge": dummy,
                                                        "bip": f"10.252.{N}.1/24"}))
        log, shim_started = _start_refused(d)
        assert (f'darsed: Error creating default "bridge" network: existing interface '
                f"{dummy} is not a bridge") in log
        assert not shim_started  # refused before anything started
        assert ipv4(dummy) == [f"10.251.{N}.1/24"]


def test_daemon_bridge_made_by_someone_else(busybox_rootfs: str) -> None:
    """daemon.json "bridge" names an existing bridge: the default network takes its
    address; --cleanup leaves it as it was."""
    d = new_daemon()
    with host_link("bridge", f"10.251.{N}.1/24") as br:
        (d.base / "daemon.json").write_text(json.dumps({"bridge": br}))
        try:
            d.start()
            d.import_busybox(busybox_rootfs)
            ipam = json.loads(ok(d, "network", "inspect", "-f", "{{json .IPAM.Config}}",
                                 "bridge"))
            assert ipam == [{"Subnet": f"10.251.{N}.0/24", "Gateway": f"10.251.{N}.1"}]
            out = ok(d, "run", "--rm", "busybox", "ip", "-4", "-o", "addr", "show", "eth0")
            assert f"inet 10.251.{N}.2/24" in out
        finally:
            d.stop()
            shutil.rmtree(d.base, ignore_errors=True)
        assert exists(br) and ipv4(br) == [f"10.251.{N}.1/24"]


def test_a_foreign_nftables_table_is_not_replaced() -> None:
    d = new_daemon()
    with host_link("bridge") as br:
        table = f"darse_{br}"
        subprocess.run(["nft", "-f", "-"], text=True, check=True,
                       input=f"table ip {table} {{\n chain theirs {{\n }}\n}}\n")
        try:
            (d.base / "daemon.json").write_text(json.dumps({"bridge": br,
                                                            "bip": f"10.252.{N}.1/24"}))
            log, shim_started = _start_refused(d)
            assert not shim_started
            assert (f"darsed: nftables table ip {table} exists and was not made by darse: "
                    f"darse will not replace it") in log
            listing = subprocess.run(["nft", "list", "table", "ip", table], capture_output=True,
                                     text=True, check=True).stdout
            assert "chain theirs" in listing
            assert ipv4(br) == []
        finally:
            subprocess.run(["nft", "delete", "table", "ip", table])


def test_startup_leaves_a_namespace_it_did_not_pin(busybox_rootfs: str) -> None:
    """What sits in the exec root's netns folder and is not a container's is not darse's
    to unmount (an exec root set to /run would share iproute2's /run/netns)."""
    d = new_daemon()
    foreign = os.path.join(d.exec_root, "netns", "blue")
    netns.create(foreign)
    try:
        d.start()
        ok(d, "network", "ls")
        with open("/proc/self/mountinfo") as f:
            assert any(line.split()[4] == foreign for line in f)
    finally:
        d.stop()
        if os.path.exists(foreign):
            syscalls.umount2(foreign, syscalls.MNT_DETACH)
            os.unlink(foreign)
        assert leftover_mounts(str(d.base)) == []
        shutil.rmtree(d.base, ignore_errors=True)


def test_daemon_bridge_renamed_between_runs() -> None:
    """daemon.json's "bridge" changed: the default network moves to the new bridge (here
    someone else's, whose address it takes); darse's former bridge goes, theirs stays."""
    from tests.conftest import unique_network

    d = new_daemon()
    mine, bip = unique_network()
    (d.base / "daemon.json").write_text(json.dumps({"bridge": mine, "bip": bip}))
    with host_link("bridge", f"10.251.{N}.1/24") as br:
        try:
            d.start()
            d.kill(signal.SIGKILL)  # no --cleanup: the bridge stays, as after a plain stop
            assert exists(mine)
            (d.base / "daemon.json").write_text(json.dumps({"bridge": br}))
            d.start()
            info = json.loads(ok(d, "network", "inspect", "bridge"))[0]
            assert info["Options"]["com.docker.network.bridge.name"] == br
            assert info["IPAM"]["Config"] == [{"Subnet": f"10.251.{N}.0/24",
                                               "Gateway": f"10.251.{N}.1"}]
            assert not exists(mine)
        finally:
            d.stop()
            ip("link", "del", mine)
            subprocess.run(["nft", "delete", "table", "ip", f"darse_{mine}"],
                           capture_output=True)
            shutil.rmtree(d.base, ignore_errors=True)
        assert exists(br) and ipv4(br) == [f"10.251.{N}.1/24"]
