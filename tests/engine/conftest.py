"""An engine (and its shim) on the test's own data and exec roots, with busybox
imported from busybox-static; every container and the shim are gone afterwards."""

from __future__ import annotations

import io
import os
import signal
import time
from collections.abc import Iterator

import pytest

from darse.engine.config import DaemonConfig
from darse.engine.engine import Engine
from darse.image.importer import import_image
from darse.runtime import state
from tests.ocilayout import tar_of_dir


def stop_shim(exec_root: str) -> None:
    pid_file = os.path.join(exec_root, "shim.pid")
    if not os.path.exists(pid_file):
        return
    pid = int(open(pid_file).read())
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 5
    # read once a turn: the shim may go between two reads; a zombie is gone (init
    # reaps it late)
    while time.monotonic() < deadline and (st := state.proc_stat(pid)) is not None \
            and st[0] != "Z":
        time.sleep(0.01)


@pytest.fixture
def engine(tmp_path, busybox_rootfs: str) -> Iterator[Engine]:
    from tests.conftest import unique_network

    bridge, bip = unique_network()
    cfg = DaemonConfig(data_root=str(tmp_path / "data"), exec_root=str(tmp_path / "exec"),
                       bip=bip, raw={"bridge": bridge})
    eng = Engine(cfg)
    eng.startup()
    import_image(eng.images, io.BytesIO(tar_of_dir(busybox_rootfs)), "busybox:latest",
                 changes=['CMD ["sh"]'])
    yield eng
    for doc in eng.containers.all():
        eng.remove(doc["Id"], force=True)
    eng.close()
    eng.networks.teardown()
    stop_shim(cfg.exec_root)
