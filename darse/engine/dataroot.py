"""Who may walk darse's data and exec roots: root, and with userns-remap the remapped
root's group, no one else.

A container's root can plant a setuid binary in its upper layer or in a volume; a host
user who can walk to it is root (the class of CVE-2021-41091). Docker answers with
0710/0700 folders; darse does the same, and also closes volumes (Docker leaves them
0701, so a planted binary in a volume is reachable by its known path). The remapped
root needs to walk to its rootfs, /etc files and volumes, so those folders are
root:<remapped gid> 0710; everything else, and every file holding a container's
configuration (its environment is often a secret), is root's alone.
"""

from __future__ import annotations

import os

PRIVATE = 0o700  # root only
TRAVERSE = 0o710  # root, and the remapped root's group may pass through (not list)
PRIVATE_FILE = 0o600
LOG_FILE = 0o640  # as dockerd's json-file logs

# Folders of the data root the remapped root walks through; the rest are PRIVATE.
WALKED = ("containers", "overlay", "volumes")
PRIVATE_DIRS = ("blobs",)


def make_dir(path: str, mode: int, gid: int = 0) -> None:
    """mkdir -p, then owner and mode set even when it existed (an older darse's folder)."""
    os.makedirs(path, mode, exist_ok=True)
    os.chown(path, 0, gid)
    os.chmod(path, mode)


def secure(data_root: str, exec_root: str, gid: int = 0) -> None:
    """Create or tighten the roots' folders and state.db before anything is written."""
    make_dir(data_root, TRAVERSE, gid)
    for name in WALKED:
        make_dir(os.path.join(data_root, name), TRAVERSE, gid)
    for name in PRIVATE_DIRS:
        make_dir(os.path.join(data_root, name), PRIVATE)
    make_dir(exec_root, PRIVATE)
    # SQLite creates state.db-wal and -shm with state.db's own mode.
    for suffix in ("", "-wal", "-shm"):
        path = os.path.join(data_root, "state.db" + suffix)
        if suffix == "" or os.path.exists(path):
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, PRIVATE_FILE))
            os.chmod(path, PRIVATE_FILE)


def write_private(path: str, data: bytes) -> None:
    """A root-only file, never readable by others even for a moment (umask aside)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC,
                 PRIVATE_FILE)
    try:
        os.fchmod(fd, PRIVATE_FILE)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)
