"""Fixtures shared by the whole suite: root check, the busybox root filesystem."""

from __future__ import annotations

import os

import pytest

from darse.image import busybox


def pytest_configure(config: pytest.Config) -> None:
    if os.geteuid() != 0:
        raise pytest.UsageError("darse's tests run real containers: run them as root")


@pytest.fixture(scope="session")
def busybox_rootfs(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A busybox root filesystem, from Debian's busybox-static, shared read-only."""
    path = tmp_path_factory.mktemp("busybox") / "rootfs"
    busybox.make_rootfs(str(path))
    return str(path)


_net_counter = [0]

HOST_DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom",
                "/dev/tty", "/dev/ptmx")


@pytest.fixture(autouse=True)
def _host_devices_untouched() -> object:
    """The host's device nodes keep their modes and owners whatever a test did through a
    container (a bind-mounted node is the host's inode): a change fails the test that
    made it, and is undone so the machine stays usable (apt's sandbox writes /dev/null)."""
    def seen() -> dict[str, tuple[int, int, int]]:
        out = {}
        for path in HOST_DEVICES:
            try:
                st = os.stat(path)
            except OSError:
                continue
            out[path] = (st.st_mode, st.st_uid, st.st_gid)
        return out

    before = seen()
    yield
    after = seen()
    changed = {p: (before[p], after.get(p)) for p in before if after.get(p) != before[p]}
    for path, ((mode, uid, gid), _) in changed.items():
        os.chown(path, uid, gid)
        os.chmod(path, mode & 0o7777)
    assert not changed, f"host device nodes changed (mode, uid, gid): {changed}"


@pytest.fixture(scope="session", autouse=True)
def _own_network_names_removed() -> object:
    """The bridges and nftables tables named by unique_network() are this run's: whatever
    a test's daemon left of them goes when the run ends."""
    yield
    import subprocess

    prefix = f"dz{os.getpid() % 10000}x"
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    for line in links.splitlines():
        name = line.split(": ")[1].split("@")[0] if ": " in line else ""
        if name.startswith(prefix):
            subprocess.run(["ip", "link", "del", name], capture_output=True)
    tables = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
    for line in tables.splitlines():
        words = line.split()
        if len(words) == 3 and words[1] in ("ip", "ip6") and \
                words[2].startswith(f"darse_{prefix}"):
            subprocess.run(["nft", "delete", "table", words[1], words[2]], capture_output=True)


_ULA = [""]


def unique_subnet6() -> str:
    """An IPv6 /64 of the run's own: one /48 of the ULA space per run (40 random bits
    after fd, as RFC 4193 asks), never the host's own fd00::/64."""
    if not _ULA[0]:
        import secrets

        raw = secrets.token_hex(5)
        _ULA[0] = f"fd{raw[:2]}:{raw[2:6]}:{raw[6:10]}"
    _net_counter[0] += 1
    return f"{_ULA[0]}:{_net_counter[0]:x}::/64"


def unique_network() -> tuple[str, str]:
    """A bridge name and bip of the test run's own (never darse0, never a daemon's)."""
    _net_counter[0] += 1
    n, pid = _net_counter[0], os.getpid()
    return f"dz{pid % 10000}x{n}", f"10.{200 + n % 50}.{pid % 250}.1/24"


DEBIAN_CACHE = "/var/cache/darse-test/debian-bookworm-minbase.tar"


@pytest.fixture(scope="session")
def debian_tar() -> str:
    """A Debian 12 root filesystem (debootstrap minbase, from Debian's mirror), as a tar,
    cached between runs."""
    import shutil
    import subprocess
    import tempfile

    if os.path.exists(DEBIAN_CACHE):
        return DEBIAN_CACHE
    os.makedirs(os.path.dirname(DEBIAN_CACHE), exist_ok=True)
    work = tempfile.mkdtemp(dir=os.path.dirname(DEBIAN_CACHE))
    try:
        root = os.path.join(work, "rootfs")
        subprocess.run(["debootstrap", "--variant=minbase", "bookworm", root,
                        "http://deb.debian.org/debian"], check=True, capture_output=True)
        subprocess.run(["tar", "-C", root, "--exclude=./proc/*", "--exclude=./sys/*",
                        "-cf", os.path.join(work, "debian.tar"), "."], check=True)
        os.rename(os.path.join(work, "debian.tar"), DEBIAN_CACHE)
    finally:
        subprocess.run(["umount", "-R", os.path.join(work, "rootfs", "proc")],
                       capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
    return DEBIAN_CACHE
