"""Layers unpacked in worker processes (darse.image.unpacker): what a pull answers when a
worker fails or dies, and that nothing of them outlives the pull."""

from __future__ import annotations

import gzip
import os
import signal
import time

import pytest

from darse.errors import InvalidArgument, SystemFailure
from darse.image import reference
from darse.image.pull import pull
from darse.image.store import ImageStore
from darse.image.unpacker import Unpackers
from tests.image.conftest import RegistryServer
from tests.ocilayout import Layout, digest, tar_of_entries, tar_of_files


def _children(pid: int) -> list[int]:
    out = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as f:
            out += [int(p) for p in f.read().split()]
    return out


def _unpackers() -> list[int]:
    out = []
    for pid in _children(os.getpid()):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if b"darse.image.unpacker" in f.read():
                    out.append(pid)
        except FileNotFoundError:
            pass
    return out


def test_a_layer_unpacked_by_a_worker(tmp_path) -> None:
    raw = tar_of_entries([("d", "dir", b""), ("d/f", "file", "hello\n"),
                          ("d/l", "symlink", "f")])
    dest = tmp_path / "diff"
    dest.mkdir()
    with Unpackers() as unpackers:
        layer = unpackers.start(str(dest))
        layer.write(gzip.compress(raw))
        assert layer.result() == (digest(raw), len(raw))
    assert (dest / "d" / "f").read_text() == "hello\n"
    assert os.readlink(dest / "d" / "l") == "f"
    assert _unpackers() == []  # the unpacker is gone with its workers


def test_a_bad_layer_is_the_workers_error_and_its_end(tmp_path) -> None:
    dest = tmp_path / "diff"
    dest.mkdir()
    with Unpackers() as unpackers:
        layer = unpackers.start(str(dest))
        layer.write(gzip.compress(b"not a tar archive, but long enough" * 40))
        with pytest.raises(InvalidArgument, match="invalid layer tar"):
            layer.result()
        layer.abort()  # answered already: returns at once
        # The same unpacker goes on with the next layer.
        good = tar_of_entries([("f", "file", "x")])
        other = tmp_path / "other"
        other.mkdir()
        second = unpackers.start(str(other))
        second.write(good)
        assert second.result() == (digest(good), len(good))


def test_a_worker_killed_midway_is_an_error_not_a_wait(tmp_path) -> None:
    dest = tmp_path / "diff"
    dest.mkdir()
    with Unpackers() as unpackers:
        layer = unpackers.start(str(dest))
        layer.write(tar_of_entries([("f", "file", "x" * 1000)])[:512])  # a header, no end
        deadline = time.monotonic() + 10
        while not (workers := _children(unpackers.proc.pid)):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        os.kill(workers[0], signal.SIGKILL)
        with pytest.raises(SystemFailure, match="layer unpacker died: signal 9"):
            layer.result()


def test_pull_stopped_by_a_bad_layer_keeps_nothing_and_leaves_no_process(
        store: ImageStore, registry: RegistryServer, tmp_path) -> None:
    big = os.urandom(3 << 20)  # still being fetched when the bad one fails
    layout = Layout(tmp_path / "image")
    layout.image([tar_of_entries([("big", "file", big)]),
                  b"\x01" * 2048])  # no tar
    registry.push_layout(tmp_path / "image", "bad/mixed")
    with pytest.raises(InvalidArgument):
        pull(store, reference.parse(f"{registry.host}/bad/mixed"))
    assert store.image_ids() == [] and store.snapshots.all() == []
    assert [d for d in os.listdir(store.snapshots.dir) if d.startswith(".tmp")] == []
    assert _unpackers() == []


def _archive(layers: list[bytes], diff_ids: list[str]) -> bytes:
    """A docker-save archive of one image tagged multi:1."""
    import json

    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
    files = {"config.json": config, "manifest.json": json.dumps([{
        "Config": "config.json", "RepoTags": ["multi:1"],
        "Layers": [f"l{i}/layer.tar" for i in range(len(layers))]}]).encode()}
    files.update({f"l{i}/layer.tar": raw for i, raw in enumerate(layers)})
    return tar_of_files(files)


def test_load_unpacks_several_layers_and_a_bad_one_keeps_nothing(store: ImageStore) -> None:
    import io

    from darse.image import archive

    raws = [tar_of_entries([(f"f{i}", "file", f"layer {i}\n")]) for i in range(3)]
    assert archive.load(store, io.BytesIO(_archive(raws, [digest(r) for r in raws]))) == \
        ["Loaded image: multi:1"]
    chain = store.chain(store.resolve("multi:1"))
    assert [open(f"{store.snapshots.diff(c)}/f{i}").read() for i, c in enumerate(chain)] == \
        [f"layer {i}\n" for i in range(3)]
    store.remove("multi:1")

    bad = [raws[0], b"\x01" * 2048, tar_of_entries([("g", "file", "x")])]
    with pytest.raises(InvalidArgument, match="invalid layer tar"):
        archive.load(store, io.BytesIO(_archive(bad, [digest(r) for r in bad])))
    assert store.image_ids() == [] and store.snapshots.all() == []
    assert [d for d in os.listdir(store.snapshots.dir) if d.startswith(".tmp")] == []
    assert _unpackers() == []
