"""userns-remap: the containers' root is an unprivileged range of host ids.

daemon.json "userns-remap": "default" (a system user `darseremap`, given a subordinate
range if it has none) or a user name (its /etc/subuid and /etc/subgid ranges). Each
container then gets a user namespace mapping 0..65535 onto that range, and sees the
image's layers through copies whose owners are shifted into the range (DATA/remap-U.G,
made once per layer) — what Docker does for userns-remap.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from dataclasses import dataclass

from darse.errors import InvalidArgument, SystemFailure
from darse.fs import copy as fscopy
from darse.fs.root import Meta, Root

DEFAULT_USER = "darseremap"
SIZE = 65536


@dataclass
class Remap:
    uid: int
    gid: int
    size: int = SIZE

    def mappings(self) -> tuple[list[dict[str, int]], list[dict[str, int]]]:
        return ([{"containerID": 0, "hostID": self.uid, "size": self.size}],
                [{"containerID": 0, "hostID": self.gid, "size": self.size}])

    @property
    def tag(self) -> str:
        return f"{self.uid}.{self.gid}"


def _ranges(path: str, name: str) -> tuple[int, int] | None:
    try:
        with open(path) as f:
            for line in f:
                parts = line.strip().split(":")
                if len(parts) == 3 and parts[0] == name:
                    return int(parts[1]), int(parts[2])
    except FileNotFoundError:
        pass
    return None


def _free_start(path: str) -> int:
    end = 100000
    try:
        with open(path) as f:
            for line in f:
                parts = line.strip().split(":")
                if len(parts) == 3:
                    end = max(end, int(parts[1]) + int(parts[2]))
    except FileNotFoundError:
        pass
    return end


def resolve(setting: str) -> Remap | None:
    if not setting:
        return None
    name = setting.split(":")[0]
    if setting == "default":
        name = DEFAULT_USER
        if subprocess.run(["id", name], capture_output=True).returncode != 0:
            done = subprocess.run(["useradd", "--system", "--no-create-home", "--shell",
                                   "/usr/sbin/nologin", name], capture_output=True, text=True)
            if done.returncode != 0:
                raise SystemFailure(f"userns-remap: cannot create {name}: {done.stderr}")
        for path in ("/etc/subuid", "/etc/subgid"):
            if _ranges(path, name) is None:
                with open(path, "a") as f:
                    f.write(f"{name}:{_free_start(path)}:{SIZE}\n")
    uids, gids = _ranges("/etc/subuid", name), _ranges("/etc/subgid", name)
    if uids is None or gids is None:
        raise InvalidArgument(f"userns-remap: no subordinate ids for {name} in /etc/subuid "
                              "and /etc/subgid")
    if uids[1] < SIZE or gids[1] < SIZE:
        raise InvalidArgument(f"userns-remap: {name} needs {SIZE} subordinate ids")
    return Remap(uids[0], gids[0])


def shifted_copy(source: str, target: str, remap: Remap) -> None:
    """A layer's copy with every owner moved into the range (modes, xattrs, whiteouts,
    hard links kept; the owner is set first, as chown clears set-id bits and file
    capabilities). Written through darse.fs: the layer's links are copied, not followed."""
    tmp = target + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    os.mkdir(tmp, 0o700)
    owner = fscopy.shifted_owner(remap.uid, remap.gid)
    try:
        with Root(source) as src, Root(tmp) as dst:
            fscopy.copy_tree(src, (), dst, (), owner)
            st = src.lstat(())
            dst.set_meta((), Meta(*owner(st.st_uid, st.st_gid), stat.S_IMODE(st.st_mode),
                                  src.xattrs(()), st.st_atime_ns, st.st_mtime_ns))
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise SystemFailure(f"userns-remap: copying a layer failed: {exc.strerror}: "
                            f"{exc.filename}") from None
    os.rename(tmp, target)
