"""kill: send a signal to the container's init, or to all its processes."""

from __future__ import annotations

import os
import signal

from darse.errors import Conflict, InvalidArgument
from darse.runtime import cgroups, state


def parse_signal(name: str | int) -> int:
    """9, KILL and SIGKILL all name SIGKILL, as in runc and docker."""
    if isinstance(name, int) or str(name).isdigit():
        number = int(name)
        if not 0 < number < signal.NSIG:
            raise InvalidArgument(f"invalid signal: {name}")
        return number
    text = str(name).upper()
    text = text if text.startswith("SIG") else "SIG" + text
    try:
        return int(getattr(signal.Signals, text))
    except AttributeError:
        raise InvalidArgument(f"invalid signal: {name}") from None


def kill(root: str, container_id: str, sig: str | int = signal.SIGTERM,
         all_processes: bool = False) -> None:
    st = state.load(root, container_id)
    number = parse_signal(sig)
    if state.status(root, st) == state.STOPPED:
        raise Conflict("container not running")
    if all_processes:
        cgroups.signal_all(st.cgroup_paths, number)
    else:
        os.kill(st.pid, number)
