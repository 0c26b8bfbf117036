"""Named volumes, local driver: DATA/volumes/NAME/_data, records in state.db.

A volume with driver options (type, device, o) is mounted when a container first uses
it and unmounted when the last one stops, as Docker's local driver does.
"""

from __future__ import annotations

import datetime
import fnmatch
import json
import os
import re
import secrets
import shutil
import threading
from collections.abc import Callable
from typing import Any

from darse import syscalls
from darse.db import Database
from darse.errors import Conflict, InvalidArgument, NotFound, SystemFailure

SCHEMA = """
CREATE TABLE IF NOT EXISTS volumes (
    name TEXT PRIMARY KEY,
    driver TEXT NOT NULL,
    created TEXT NOT NULL,
    labels TEXT NOT NULL,
    options TEXT NOT NULL
);
"""
_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
ANONYMOUS_LABEL = "com.docker.volume.anonymous"


def validate_name(name: str) -> None:
    if not _NAME.match(name):
        raise InvalidArgument(
            f'create {name}: "{name}" includes invalid characters for a local volume name, '
            'only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host '
            "directory, use absolute path")


class VolumeStore:
    def __init__(self, data_root: str, db: Database) -> None:
        self.dir = os.path.join(data_root, "volumes")
        os.makedirs(self.dir, mode=0o710, exist_ok=True)  # tightened by engine.dataroot
        self.db = db
        self.db.schema(SCHEMA)
        self.lock = threading.RLock()
        self.mounted: dict[str, int] = {}  # name -> running users, for option volumes
        # told of each volume made or removed (darsed's events: create, destroy)
        self.changed: Callable[[str, str], None] = lambda _action, _name: None

    def path(self, name: str) -> str:
        return os.path.join(self.dir, name, "_data")

    def _doc(self, row: Any) -> dict[str, Any]:
        options = json.loads(row["options"])
        return {"CreatedAt": row["created"], "Driver": row["driver"],
                "Labels": json.loads(row["labels"]) or None,
                "Mountpoint": self.path(row["name"]), "Name": row["name"],
                "Options": options or None, "Scope": "local"}

    def create(self, name: str | None = None, driver: str = "local",
               options: dict[str, str] | None = None, labels: dict[str, str] | None = None,
               anonymous: bool = False) -> dict[str, Any]:
        """Docker's create is idempotent: an existing volume of that name is returned."""
        driver = driver or "local"
        if driver != "local":
            raise NotFound(f"plugin \"{driver}\" not found")
        options = options or {}
        for key in options:
            if key not in ("type", "device", "o", "size"):
                raise InvalidArgument(f"invalid option key: {key!r}")
        if options and "type" not in options and "device" in options:
            raise InvalidArgument("missing required option: \"type\"")
        labels = dict(labels or {})
        if name is None:
            name = secrets.token_hex(32)
            anonymous = True
        validate_name(name)
        if anonymous:
            labels[ANONYMOUS_LABEL] = ""
        with self.lock:
            row = self.db.execute("SELECT * FROM volumes WHERE name=?", (name,)).fetchone()
            if row:
                return self._doc(row)
            # A folder without a record is what a crash between the two left: the name
            # is free, the folder (empty or not) is taken over.
            os.makedirs(self.path(name), mode=0o755, exist_ok=True)
            now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            try:
                self.db.execute("INSERT INTO volumes VALUES (?,?,?,?,?)",
                                (name, driver, now, json.dumps(labels), json.dumps(options)))
            except BaseException:
                shutil.rmtree(os.path.join(self.dir, name), ignore_errors=True)
                raise
            self.changed("create", name)
            return self.get(name)

    def get(self, name: str) -> dict[str, Any]:
        row = self.db.execute("SELECT * FROM volumes WHERE name=?", (name,)).fetchone()
        if not row:
            raise NotFound(f"get {name}: no such volume")
        return self._doc(row)

    def exists(self, name: str) -> bool:
        return self.db.execute("SELECT 1 FROM volumes WHERE name=?", (name,)).fetchone() \
            is not None

    def list(self, filters: dict[str, list[str]] | None = None,
             users: dict[str, list[str]] | None = None) -> list[dict[str, Any]]:
        filters = filters or {}
        users = users or {}
        for key in filters:
            if key not in ("dangling", "name", "label", "driver"):
                raise InvalidArgument(f"invalid filter '{key}'")
        out = []
        for row in self.db.execute("SELECT * FROM volumes ORDER BY name"):
            doc = self._doc(row)
            if not _match(doc, filters, bool(users.get(doc["Name"]))):
                continue
            out.append(doc)
        return out

    def remove(self, name: str, users: list[str], force: bool = False) -> None:
        with self.lock:
            if not self.exists(name):
                if force:
                    return
                raise NotFound(f"get {name}: no such volume")
            if users:
                raise Conflict(f"remove {name}: volume is in use - [{', '.join(users)}]")
            self._unmount(name)
            self.db.execute("DELETE FROM volumes WHERE name=?", (name,))
            shutil.rmtree(os.path.join(self.dir, name), ignore_errors=True)
            self.changed("destroy", name)

    def prune(self, users: dict[str, list[str]], all_volumes: bool = False,
              only: set[str] | None = None) -> dict[str, Any]:
        deleted, space = [], 0
        for doc in self.list():
            if users.get(doc["Name"]) or (only is not None and doc["Name"] not in only):
                continue
            if not all_volumes and ANONYMOUS_LABEL not in (doc["Labels"] or {}):
                continue  # Docker 23+: prune removes anonymous volumes unless --all
            space += _du(self.path(doc["Name"]))
            self.remove(doc["Name"], [])
            deleted.append(doc["Name"])
        return {"VolumesDeleted": deleted or None, "SpaceReclaimed": space}

    # --- volumes with driver options (tmpfs, a device, a bind) ---------------------

    def acquire(self, name: str) -> None:
        """Mount an option volume for its first running user."""
        doc = self.get(name)
        opts = doc["Options"] or {}
        if not opts.get("type") and not opts.get("device"):
            return
        with self.lock:
            count = self.mounted.get(name, 0)
            if count == 0 and not os.path.ismount(self.path(name)):
                kind = opts.get("type") or "none"
                flags, data = 0, opts.get("o", "")
                words = data.split(",") if data else []
                if "bind" in words or "rbind" in words:
                    flags |= syscalls.MS_BIND | (syscalls.MS_REC if "rbind" in words else 0)
                    words = [w for w in words if w not in ("bind", "rbind")]
                device, target = opts.get("device", kind), self.path(name)
                try:
                    syscalls.mount(device, target, kind, flags, ",".join(words) or None)
                except OSError as exc:  # dockerd's sentence, its errno in Go's words
                    raise SystemFailure(
                        f"error while mounting volume '{target}': failed to mount local "
                        f"volume: mount {device}:{target}, data: {','.join(words)}: "
                        f"{(exc.strerror or str(exc)).lower()}") from None
            self.mounted[name] = count + 1

    def release(self, name: str) -> None:
        with self.lock:
            if name not in self.mounted:
                return
            self.mounted[name] -= 1
            if self.mounted[name] <= 0:
                self._unmount(name)

    def _unmount(self, name: str) -> None:
        self.mounted.pop(name, None)
        if os.path.ismount(self.path(name)):
            try:
                syscalls.umount2(self.path(name), syscalls.MNT_DETACH)
            except OSError:
                pass


def _match(doc: dict[str, Any], filters: dict[str, list[str]], used: bool) -> bool:
    for value in filters.get("dangling", []):
        if value.lower() not in ("true", "false", "1", "0"):
            raise InvalidArgument(f"invalid filter 'dangling={value}'")
        if (value.lower() in ("true", "1")) == used:
            return False
    if filters.get("name") and not any(fnmatch.fnmatch(doc["Name"], f"*{v}*")
                                       for v in filters["name"]):
        return False
    if filters.get("driver") and doc["Driver"] not in filters["driver"]:
        return False
    labels = doc["Labels"] or {}
    for label in filters.get("label", []):
        k, _, v = label.partition("=")
        if k not in labels or (v and labels[k] != v):
            return False
    return True


def _du(path: str) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_size
            except OSError:
                pass
    return total
