"""darse.fs.tarball: a tree inside a root as a tar, every entry read through the root's
fds: links stay links (a link to a host file is never read), hard links stay links."""

from __future__ import annotations

import io
import os
import stat
import tarfile
from pathlib import Path

from darse.fs.root import Root
from darse.fs.tarball import write_tar


def test_tree_as_tar_with_links_devices_and_hard_links(tmp_path: Path) -> None:
    host_secret = tmp_path / "secret"
    host_secret.write_text("HOST-SECRET\n")
    tree = tmp_path / "tree"
    (tree / "d").mkdir(parents=True)
    (tree / "d" / "f").write_text("data\n")
    os.chmod(tree / "d" / "f", 0o4755)
    os.link(tree / "d" / "f", tree / "hard")
    os.symlink(str(host_secret), tree / "leak")  # absolute: the container's, not the host's
    os.mknod(tree / "fifo", stat.S_IFIFO | 0o600)  # would block a reader
    os.mknod(tree / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    out = io.BytesIO()
    with Root(str(tree)) as root:
        write_tar(root, (), out)
    data = out.getvalue()
    assert b"HOST-SECRET" not in data
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        members = {m.name: m for m in tf.getmembers()}
        assert set(members) == {"d", "d/f", "hard", "leak", "fifo", "null"}
        assert members["d"].isdir()
        f = members["d/f"]
        assert f.isfile() and f.mode == 0o4755 and tf.extractfile(f).read() == b"data\n"
        assert members["hard"].islnk() and members["hard"].linkname == "d/f"
        assert members["leak"].issym() and members["leak"].linkname == str(host_secret)
        assert members["fifo"].isfifo()
        assert members["null"].ischr() and (members["null"].devmajor,
                                            members["null"].devminor) == (1, 3)


def test_one_entry_named(tmp_path: Path) -> None:
    (tmp_path / "t" / "etc").mkdir(parents=True)
    (tmp_path / "t" / "etc" / "hosts").write_text("127.0.0.1 x\n")
    out = io.BytesIO()
    with Root(str(tmp_path / "t")) as root:
        write_tar(root, ("etc",), out, "etc")
    with tarfile.open(fileobj=io.BytesIO(out.getvalue())) as tf:
        assert tf.getnames() == ["etc", "etc/hosts"]
