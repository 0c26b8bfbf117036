"""A removed container's folder, taken away in the background.

Its logs, upper layer and /etc files can take milliseconds to unlink (more under a busy
disk), and nothing waits for them: the record is gone already, so the folder is renamed
to a dot-name beside the others at once and deleted by one worker thread. A crash in
between leaves a folder without a record, which reclaim.leftovers removes at start.
"""

from __future__ import annotations

import os
import queue
import shutil
import threading

_queue: queue.SimpleQueue[str] = queue.SimpleQueue()
_worker: threading.Thread | None = None
_lock = threading.Lock()


def remove_later(path: str) -> None:
    """Move path out of the way now (its name is free again), delete it soon."""
    gone = os.path.join(os.path.dirname(path), f".removed-{os.path.basename(path)}")
    try:
        os.rename(path, gone)
    except FileNotFoundError:
        return
    except OSError:  # a leftover of the same name in the way: the slow way
        shutil.rmtree(path, ignore_errors=True)
        return
    _queue.put(gone)
    global _worker
    with _lock:
        if _worker is None:
            _worker = threading.Thread(target=_work, name="darse-trash", daemon=True)
            _worker.start()


def _work() -> None:
    while True:
        shutil.rmtree(_queue.get(), ignore_errors=True)
