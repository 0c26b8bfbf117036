"""`-u user[:group]` resolved in the container's own /etc/passwd and /etc/group, as
Docker does: names must exist there, numbers need not."""

from __future__ import annotations

import os

from darse.errors import DarseError, InvalidArgument
from darse.fs.root import Root

# A passwd or group file is read whole; what a container puts past this is not read.
READ_LIMIT = 4 << 20


def read_container_file(rootfs: str, path: str, limit: int = READ_LIMIT) -> bytes | None:
    """A file of the container's, as darsed may read one: through darse.fs (links
    resolved inside the rootfs, every folder opened without following a link), only a
    regular file (a FIFO would block the daemon), at most `limit` bytes. None when there
    is no such regular file."""
    try:
        with Root(rootfs) as root:
            fd = root.open_file(root.resolve(path))
    except (OSError, DarseError):
        return None
    try:
        chunks, left = [], limit
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _entries(rootfs: str, name: str) -> list[list[str]]:
    data = read_container_file(rootfs, f"/etc/{name}")
    if not data:
        return []
    return [line.split(":") for line in data.decode(errors="replace").splitlines()
            if line.strip() and not line.startswith("#")]


def resolve(rootfs: str, spec: str) -> dict[str, object]:
    """{'uid', 'gid', 'additionalGids'} for the OCI process.user."""
    user, _, group = (spec or "0").partition(":")
    passwd = _entries(rootfs, "passwd")
    groups = _entries(rootfs, "group")
    uid = gid = None
    name = None
    for entry in passwd:
        if len(entry) >= 4 and (entry[0] == user or (user.isdigit() and entry[2] == user)):
            uid, gid, name = int(entry[2]), int(entry[3]), entry[0]
            break
    if uid is None:
        if not user.isdigit():
            raise InvalidArgument(f"unable to find user {user}: no matching entries in "
                                  "passwd file")
        uid, gid = int(user), 0
    if group:
        gid = None
        for entry in groups:
            if len(entry) >= 3 and (entry[0] == group or (group.isdigit() and entry[2] == group)):
                gid = int(entry[2])
                break
        if gid is None:
            if not group.isdigit():
                raise InvalidArgument(f"unable to find group {group}: no matching entries in "
                                      "group file")
            gid = int(group)
    extra = sorted({int(e[2]) for e in groups if len(e) >= 4 and name and name in
                    e[3].split(",") and e[2].isdigit() and int(e[2]) != gid})
    # As Docker: the primary group is a supplementary one too (`id` lists it).
    return {"uid": uid, "gid": gid, "additionalGids": [gid, *extra]}




def home(rootfs: str, uid: int) -> str:
    """The home folder of uid in the container's /etc/passwd ('/' without one), as runc
    sets HOME when the environment has none."""
    for entry in _entries(rootfs, "passwd"):
        if len(entry) >= 6 and entry[2] == str(uid):
            return entry[5] or "/"
    return "/"


def add_groups(user: dict[str, object], rootfs: str, groups: list[str] | None) -> None:
    """HostConfig.GroupAdd: groups by name (from the container's /etc/group) or number,
    added to the process's supplementary ones."""
    if not groups:
        return
    entries = _entries(rootfs, "group")
    extra = list(user.get("additionalGids") or [])  # type: ignore[call-overload]
    for group in groups:
        gid = next((int(e[2]) for e in entries if len(e) >= 3 and e[0] == group
                    and e[2].isdigit()), None)
        if gid is None:
            if not group.isdigit():
                raise InvalidArgument(f"Unable to find group {group}: no matching entries "
                                      "in group file")
            gid = int(group)
        if gid not in extra:
            extra.append(gid)
    user["additionalGids"] = extra
