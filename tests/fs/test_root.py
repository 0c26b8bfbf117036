"""darse.fs.root: paths resolved inside a folder as if it were '/', entries made there
through directory fds, never through a link."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from darse.errors import InvalidArgument
from darse.fs.root import Meta, Root, UnsafePath, clean

# A file capability (CAP_NET_RAW, effective): chown drops it, so it must be set after.
CAP = b"\x01\x00\x00\x02\x00\x20\x00\x00" + b"\x00" * 12




@pytest.fixture
def root(tmp_path: Path) -> Iterator[Root]:
    (tmp_path / "root").mkdir()
    with Root(str(tmp_path / "root")) as r:
        yield r


def untouched(outside: Path) -> bool:
    return sorted(os.listdir(outside)) == ["file"] and (outside / "file").read_text() == "HOST\n"


def test_clean_refuses_to_climb() -> None:
    assert clean("/a/./b/../c/") == ("a", "c")
    for bad in ("..", "../x", "a/../../x"):
        with pytest.raises(UnsafePath):
            clean(bad)


def test_links_resolve_inside_the_root(root: Root, outside: Path) -> None:
    base = Path(root.path)
    (base / "etc").mkdir()
    (base / "abs").symlink_to("/etc")
    (base / "up").symlink_to("../../../..")
    (base / "host").symlink_to(outside)
    (base / "rel").symlink_to("abs/passwd")
    (base / "loop").symlink_to("loop")
    assert root.resolve("abs/passwd") == ("etc", "passwd")
    assert root.resolve("up/etc") == ("etc",)
    assert root.resolve("/../../etc/../abs") == ("etc",)
    with pytest.raises(FileNotFoundError) as missing:
        root.resolve("host/file")  # the root's own /tmp/..., which it has not
    assert missing.value.filename == "/" + outside.parts[1]
    assert root.resolve("host", follow_last=False) == ("host",)
    assert root.resolve("rel") == ("etc", "passwd")
    assert root.resolve("rel", follow_last=False) == ("rel",)
    with pytest.raises(OSError) as exc:
        root.resolve("loop/x")
    assert exc.value.errno == errno.ELOOP
    (base / "etc/file").write_text("")
    with pytest.raises(NotADirectoryError):
        root.resolve("etc/file/x")
    with pytest.raises(FileNotFoundError) as missing:
        root.resolve("nothing/x")
    assert missing.value.filename == "/nothing"  # the root's own path, not the host's


def test_makedirs_through_a_link_to_the_host_stays_inside(root: Root, outside: Path) -> None:
    base = Path(root.path)
    (base / "host").symlink_to(outside)
    where, made = root.makedirs("/host/new/deep", owner=(7, 8))
    assert made and where == (*outside.parts[1:], "new", "deep")
    assert untouched(outside)
    st = os.stat(base.joinpath(*where))
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (7, 8, 0o755)
    assert root.makedirs("host/new/deep") == (where, False)
    (base / "f").write_text("")
    with pytest.raises(NotADirectoryError):
        root.makedirs("f")


def test_writes_replace_links_never_follow_them(root: Root, outside: Path) -> None:
    base = Path(root.path)
    (base / "f").symlink_to(outside / "file")
    (base / "d").symlink_to(outside)
    root.write(("f",), _reader(b"INSIDE\n"), Meta(0, 0, 0o644))
    assert not (base / "f").is_symlink() and (base / "f").read_text() == "INSIDE\n"
    for make in (lambda p: root.write(p, _reader(b"x")), lambda p: root.symlink(p, "/"),
                 lambda p: root.mknod(p, stat.S_IFIFO | 0o600), lambda p: root.mkdir(p),
                 lambda p: root.hardlink(p, ("f",))):
        with pytest.raises(UnsafePath):
            make(("d", "x"))  # parts never go through a link
    root.mkdir(("d",))  # a directory replaces the link
    assert (base / "d").is_dir() and not (base / "d").is_symlink()
    assert untouched(outside)


def test_mkdir_merges_into_a_directory(root: Root) -> None:
    root.write(("a", "b", "kept"), _reader(b"k"))  # parents made on the way
    root.mkdir(("a",), Meta(5, 6, 0o750))
    st = os.stat(Path(root.path) / "a")
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (5, 6, 0o750)
    assert (Path(root.path) / "a/b/kept").read_text() == "k"
    root.write(("a",), _reader(b"file now"))  # a file replaces the whole directory
    assert (Path(root.path) / "a").read_text() == "file now"


def test_metadata_after_chown_and_on_the_link_itself(root: Root, outside: Path) -> None:
    base = Path(root.path)
    root.write(("ping",), _reader(b"ping"), Meta(1000, 1000, 0o4755,
                                                 {"security.capability": CAP},
                                                 1_500_000_000 * 10**9, 1_600_000_000 * 10**9))
    st = os.stat(base / "ping")
    assert (st.st_uid, stat.S_IMODE(st.st_mode), st.st_mtime) == (1000, 0o4755, 1600000000)
    assert os.getxattr(base / "ping", "security.capability") == CAP
    host = os.stat(outside / "file")
    root.symlink(("l",), str(outside / "file"), Meta(1234, 1234, None, {}, 10**9, 10**9))
    assert os.lstat(base / "l").st_uid == 1234 and os.lstat(base / "l").st_mtime == 1
    root.set_meta(("l",), Meta(99, 99, 0o600, {}, 5 * 10**9, 5 * 10**9))
    after = os.stat(outside / "file")
    assert (after.st_uid, after.st_mode, after.st_mtime_ns) == (host.st_uid, host.st_mode,
                                                                host.st_mtime_ns)
    assert os.lstat(base / "l").st_uid == 99
    root.mknod(("null",), stat.S_IFCHR | 0o600, os.makedev(1, 3), Meta(3, 3, 0o666))
    st = os.lstat(base / "null")
    assert (st.st_rdev, st.st_uid, stat.S_IMODE(st.st_mode)) == (os.makedev(1, 3), 3, 0o666)


def test_open_file_reads_regular_files_only(root: Root, outside: Path) -> None:
    base = Path(root.path)
    (base / "f").write_text("data")
    os.mkfifo(base / "fifo")  # opening it would block
    (base / "l").symlink_to(outside / "file")
    fd = root.open_file(("f",))
    try:
        assert os.read(fd, 10) == b"data"
    finally:
        os.close(fd)
    with pytest.raises(InvalidArgument):
        root.open_file(("fifo",))
    with pytest.raises(InvalidArgument):
        root.open_file(("l",))


def test_directory_fds_stay_bounded(root: Root) -> None:
    before = len(os.listdir("/proc/self/fd"))
    for i in range(300):
        root.write((f"d{i}", "sub", "f"), _reader(b""))
    assert len(os.listdir("/proc/self/fd")) - before < 100
    # One path deeper than the cache holds: its fds stay open for the call only.
    root.write(tuple(f"n{i}" for i in range(100)) + ("f",), _reader(b"deep"))
    root.lstat(("d0",))
    assert len(os.listdir("/proc/self/fd")) - before < 100
    assert (Path(root.path).joinpath(*(f"n{i}" for i in range(100)), "f")).read_text() == "deep"


class _reader:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def read(self, n: int = -1) -> bytes:
        out, self.data = (self.data, b"") if n < 0 else (self.data[:n], self.data[n:])
        return out
