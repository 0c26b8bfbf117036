"""An image's root filesystem: the overlay of its snapshots, whiteouts applied."""

from __future__ import annotations

import os

from darse import syscalls
from darse.image import reference
from darse.image.pull import pull
from darse.image.store import ImageStore
from tests.image.conftest import RegistryServer
from tests.ocilayout import Layout, tar_of_entries


def test_overlay_of_layers(store: ImageStore, registry: RegistryServer, tmp_path) -> None:
    layout = Layout(tmp_path / "layered")
    layout.image([
        tar_of_entries([("a", "file", "from layer 1"), ("b", "file", "b1"),
                        ("d", "dir", b""), ("d/old", "file", "old")]),
        tar_of_entries([(".wh.a", "file", b""), ("b", "file", "b2"),
                        ("d", "dir", b""), ("d/.wh..wh..opq", "file", b""),
                        ("d/new", "file", "new")]),
    ])
    registry.push_layout(tmp_path / "layered", "layers/two")
    image_id = pull(store, reference.parse(f"{registry.host}/layers/two"))
    chain = store.chain(image_id)
    assert len(chain) == 2
    target, upper, work = (tmp_path / n for n in ("merged", "upper", "work"))
    for d in (target, upper, work):
        d.mkdir()
    store.snapshots.mount(chain, str(target), str(upper), str(work))
    try:
        assert sorted(os.listdir(target)) == ["b", "d"]
        assert (target / "b").read_text() == "b2"
        assert os.listdir(target / "d") == ["new"]
        (target / "written").write_text("container layer")
        assert (upper / "written").exists()
    finally:
        syscalls.umount2(str(target))
    # The snapshots themselves are untouched.
    assert (open(os.path.join(store.snapshots.diff(chain[0]), "a")).read() == "from layer 1")
