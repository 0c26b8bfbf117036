"""Layer unpacking: whiteouts to overlayfs, metadata, links, and refusals."""

from __future__ import annotations

import io
import os
import stat
import tarfile

import pytest

from darse.image.layer import UnsafeLayer, unpack
from tests.ocilayout import digest, tar_of_entries


def test_whiteouts_become_overlay_whiteouts(tmp_path) -> None:
    raw = tar_of_entries([("etc", "dir", b""), ("etc/.wh.motd", "file", b""),
                          ("var", "dir", b""), ("var/.wh..wh..opq", "file", b""),
                          ("var/new", "file", b"x")])
    diff_id, size = unpack(io.BytesIO(raw), str(tmp_path))
    assert diff_id == digest(raw) and size == len(raw)
    st = os.lstat(tmp_path / "etc/motd")
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
    assert not (tmp_path / "etc/.wh.motd").exists()
    assert os.getxattr(tmp_path / "var", "trusted.overlay.opaque") == b"y"
    assert (tmp_path / "var/new").read_text() == "x"


def test_metadata_links_and_devices(tmp_path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        ti = tarfile.TarInfo("bin/ping")
        ti.size, ti.mode, ti.uid, ti.gid, ti.mtime = 4, 0o4755, 0, 0, 1600000000
        ti.pax_headers = {"SCHILY.xattr.security.capability": "\x01\x00\x00\x02\x00\x20\x00"
                          "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"}
        tf.addfile(ti, io.BytesIO(b"ping"))
        ti = tarfile.TarInfo("bin/ping6")
        ti.type, ti.linkname = tarfile.LNKTYPE, "bin/ping"
        tf.addfile(ti)
        ti = tarfile.TarInfo("home/user")
        ti.type, ti.mode, ti.uid, ti.gid = tarfile.DIRTYPE, 0o700, 1000, 1000
        tf.addfile(ti)
        ti = tarfile.TarInfo("dev/null")
        ti.type, ti.devmajor, ti.devminor, ti.mode = tarfile.CHRTYPE, 1, 3, 0o666
        tf.addfile(ti)
    unpack(io.BytesIO(buf.getvalue()), str(tmp_path))
    st = os.stat(tmp_path / "bin/ping")
    assert stat.S_IMODE(st.st_mode) == 0o4755 and st.st_mtime == 1600000000
    assert os.stat(tmp_path / "bin/ping6").st_ino == st.st_ino
    assert "security.capability" in os.listxattr(tmp_path / "bin/ping")
    home = os.stat(tmp_path / "home/user")
    assert (home.st_uid, home.st_gid, stat.S_IMODE(home.st_mode)) == (1000, 1000, 0o700)
    assert os.stat(tmp_path / "dev/null").st_rdev == os.makedev(1, 3)


@pytest.mark.parametrize("entries", [
    [("../x", "file", b"escaped")],
    [("link", "symlink", "/"), ("link/tmp/x", "file", b"escaped")],
    [("link", "symlink", "../.."), ("link/x", "file", b"escaped")],
    [("x", "hardlink", "../../etc/passwd")],
])
def test_escapes_are_refused(tmp_path, entries) -> None:
    target = tmp_path / "layer"
    target.mkdir()
    with pytest.raises(UnsafeLayer):
        unpack(io.BytesIO(tar_of_entries(entries)), str(target))
    assert sorted(os.listdir(tmp_path)) == ["layer"]


def test_corrupt_compressed_layer_is_refused(tmp_path) -> None:
    """A deflate stream broken midway is bad input, whichever inflater reads it."""
    import gzip

    from darse.errors import InvalidArgument

    blob = gzip.compress(tar_of_entries([("a", "file", os.urandom(1000) * 100)]))
    broken = blob[:20] + b"\0" * 50 + blob[70:]
    with pytest.raises(InvalidArgument, match="invalid layer"):
        unpack(io.BytesIO(broken), str(tmp_path))


def test_later_entries_win_as_in_the_tar_order(tmp_path) -> None:
    """Small files are written by several threads; what a layer makes is still what its
    entries make one after another: a file replacing a folder of files, a file written
    twice, a link to a file just written, a folder becoming a link."""
    entries = [(f"p/f{i}", "file", f"{i}") for i in range(200)]
    entries += [("p", "file", "now a file"), ("q", "file", "first"), ("q", "file", "second"),
                ("h", "hardlink", "q"), ("r/x", "file", "x"), ("r", "symlink", "/etc"),
                ("s/t/u", "file", "u"), ("s/t", "dir", ""), ("s/t/v", "file", "v")]
    entries += [(f"many/{i // 50}/f{i}", "file", os.urandom(i * 7)) for i in range(500)]
    unpack(io.BytesIO(tar_of_entries(entries)), str(tmp_path))
    assert (tmp_path / "p").read_text() == "now a file"
    assert (tmp_path / "q").read_text() == "second"
    assert os.stat(tmp_path / "h").st_ino == os.stat(tmp_path / "q").st_ino
    assert os.readlink(tmp_path / "r") == "/etc"
    assert sorted(os.listdir(tmp_path / "s/t")) == ["u", "v"]
    for name, _, data in entries[-500:]:
        assert (tmp_path / name).read_bytes() == data
