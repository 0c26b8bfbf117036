"""darse.fs.copy: a tree from one root into another, as `cp -a` and Docker's untar do,
with nothing followed on either side."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from darse.fs.copy import copy_entry, copy_tree, fixed_owner, shifted_owner
from darse.fs.root import Root
from tests.fs.test_root import CAP


def roots(tmp_path: Path) -> tuple[Root, Root]:
    (tmp_path / "src").mkdir()
    (tmp_path / "dst").mkdir()
    return Root(str(tmp_path / "src")), Root(str(tmp_path / "dst"))


def test_a_link_one_copy_left_is_replaced_not_written_through(tmp_path: Path,
                                                              outside: Path) -> None:
    """The build issue at the writer's level: a/x links to a host folder, b/x/evil and
    b/y (over a/y, a link to a host file) are copied after it into the same place."""
    src, dst = roots(tmp_path)
    base = tmp_path / "src"
    for d in ("a", "b/x"):
        (base / d).mkdir(parents=True)
    (base / "a/x").symlink_to(outside)
    (base / "a/y").symlink_to(outside / "file")
    (base / "b/x/evil").write_text("EVIL\n")
    (base / "b/y").write_text("B\n")
    with src, dst:
        for source in ("a", "b"):
            copy_tree(src, (source,), dst, (), fixed_owner(0, 0))
    assert sorted(os.listdir(outside)) == ["file"] and (outside / "file").read_text() == "HOST\n"
    assert (tmp_path / "dst/x/evil").read_text() == "EVIL\n"
    assert not (tmp_path / "dst/x").is_symlink() and not (tmp_path / "dst/y").is_symlink()
    assert (tmp_path / "dst/y").read_text() == "B\n"


def test_everything_cp_a_keeps(tmp_path: Path, outside: Path) -> None:
    src, dst = roots(tmp_path)
    base = tmp_path / "src"
    (base / "dir").mkdir(mode=0o750)
    (base / "dir/file").write_text("data")
    os.chown(base / "dir/file", 101, 102)
    os.chmod(base / "dir/file", 0o640)
    os.link(base / "dir/file", base / "hard")
    (base / "ping").write_text("ping")
    os.chown(base / "ping", 5, 5)
    os.chmod(base / "ping", 0o4755)
    os.setxattr(base / "ping", "security.capability", CAP)
    os.setxattr(base / "dir", "trusted.overlay.opaque", b"y")
    (base / "link").symlink_to(outside)  # copied as a link: outside is not read
    os.lchown(base / "link", 7, 7)
    os.mkfifo(base / "fifo", 0o600)
    os.mknod(base / "wh", stat.S_IFCHR, os.makedev(0, 0))  # an overlay whiteout
    for path in (base / "dir/file", base / "dir", base / "link"):
        os.utime(path, ns=(1_000_000_000, 2_000_000_000), follow_symlinks=False)
    with src, dst:
        copy_tree(src, (), dst, ())
    out = tmp_path / "dst"
    for name in ("dir", "dir/file", "hard", "ping", "link", "fifo", "wh"):
        a, b = os.lstat(base / name), os.lstat(out / name)
        assert (a.st_mode, a.st_uid, a.st_gid, a.st_rdev) == (b.st_mode, b.st_uid, b.st_gid,
                                                              b.st_rdev), name
        if name != "hard":  # the hard link was made after the times were set
            assert a.st_mtime_ns == b.st_mtime_ns, name
    assert os.stat(out / "hard").st_ino == os.stat(out / "dir/file").st_ino
    assert os.readlink(out / "link") == str(outside)
    assert os.getxattr(out / "ping", "security.capability") == CAP
    assert os.getxattr(out / "dir", "trusted.overlay.opaque") == b"y"


def test_shifted_and_fixed_owners(tmp_path: Path) -> None:
    src, dst = roots(tmp_path)
    base = tmp_path / "src"
    (base / "d").mkdir()
    (base / "d/f").write_text("")
    os.chown(base / "d/f", 1000, 1001)
    os.chmod(base / "d/f", 0o2755)  # kept although chown clears set-id bits
    (base / "l").symlink_to("d/f")
    with src, dst:
        copy_tree(src, (), dst, (), shifted_owner(100000, 200000))
        st = os.lstat(tmp_path / "dst/d/f")
        assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (101000, 201001, 0o2755)
        assert os.lstat(tmp_path / "dst/l").st_uid == 100000
        copy_entry(src, ("d",), dst, ("again",), fixed_owner(3, 4))
    for path in ("again", "again/f"):
        st = os.lstat(tmp_path / "dst" / path)
        assert (st.st_uid, st.st_gid) == (3, 4)
