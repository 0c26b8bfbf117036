"""A supervisor of a thousand containers holds more than 1024 descriptors: the runtime's
calls made in its process must not use an interface limited to descriptor numbers
below 1024 (select)."""

from __future__ import annotations

import os
import resource

from tests.runtime.conftest import Runtime


def test_start_in_a_process_holding_descriptors_past_1024(runtime: Runtime) -> None:
    from darse.runtime.create import create
    from darse.runtime.delete import delete
    from darse.runtime.start import start

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 2048), max(hard, 2048)))
    null = os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC)
    held = []
    try:
        while not held or held[-1] < 1100:  # the next ones created are numbered past 1024
            held.append(os.dup(null))
        cid = runtime.new_id()
        st = create(str(runtime.root), cid, str(runtime.bundle(["sleep", "100"])))
        try:
            start(str(runtime.root), cid)
            with open(f"/proc/{st.pid}/cmdline", "rb") as f:
                assert f.read() == b"sleep\x00100\x00"
        finally:
            delete(str(runtime.root), cid, force=True)
            try:
                os.waitpid(st.pid, 0)
            except ChildProcessError:
                pass
    finally:
        for fd in held:
            os.close(fd)
        os.close(null)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
