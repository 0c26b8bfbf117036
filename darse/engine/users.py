"""`-u user[:group]` resolved in the container's own /etc/passwd and /etc/group, as
Docker does: names must exist there, numbers need not."""

from __future__ import annotations

from darse.errors import InvalidArgument
from darse.runtime.mounts import secure_join


def _entries(rootfs: str, name: str) -> list[list[str]]:
    try:
        with open(secure_join(rootfs, f"/etc/{name}"), errors="replace") as f:
            return [line.rstrip("\n").split(":") for line in f if line.strip()
                    and not line.startswith("#")]
    except (FileNotFoundError, NotADirectoryError):
        return []


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
    out: dict[str, object] = {"uid": uid, "gid": gid}
    if extra:
        out["additionalGids"] = extra
    return out


