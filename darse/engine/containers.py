"""Container records in state.db: one JSON document per container, shaped like the
Engine API's ContainerInspectResponse so that inspect is a read."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from darse.db import Database
from darse.errors import Conflict, NotFound

SCHEMA = """
CREATE TABLE IF NOT EXISTS containers (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    doc TEXT NOT NULL
);
"""
ZERO_TIME = "0001-01-01T00:00:00Z"


def new_state() -> dict[str, Any]:
    return {"Status": "created", "Running": False, "Paused": False, "Restarting": False,
            "OOMKilled": False, "Dead": False, "Pid": 0, "ExitCode": 0, "Error": "",
            "StartedAt": ZERO_TIME, "FinishedAt": ZERO_TIME}


class Listed:
    """One container as listings see it, made anew at each write of its record: the
    record parsed, shared by every listing until the next write, so READ ONLY (what is
    handed out is made from it, never it); and what views derive from it (`derived`)."""

    __slots__ = ("doc", "derived")

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self.derived: Any = None


class ContainerStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.db.schema(SCHEMA)
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        # Called with the id after each write, from the writer's thread: the API's
        # asyncio waiters (darse.engine.state_watch) wake on it.
        self.watchers: list[Callable[[str], None]] = []
        # id -> the record as last written, parsed once for listings (None: not parsed
        # since its last write). Filled at the first listing; kept in step with every
        # write below, under self.lock, so a listing never sees a record older than the
        # database's. The whole is None until then.
        self._listed: dict[str, Listed | None] | None = None

    def _written(self, container_id: str, removed: bool = False) -> None:
        if self._listed is not None:
            if removed:
                self._listed.pop(container_id, None)
            else:
                self._listed[container_id] = None

    def _notify(self, container_id: str) -> None:
        self.changed.notify_all()
        for fn in self.watchers:
            fn(container_id)

    def check_name(self, name: str) -> None:
        row = self.db.execute("SELECT id FROM containers WHERE name=?", (name,)).fetchone()
        if row:
            raise Conflict(f'Conflict. The container name "/{name}" is already in use by '
                           f'container "{row["id"]}". You have to remove (or rename) that '
                           "container to be able to reuse that name.")

    def add(self, doc: dict[str, Any]) -> None:
        name = doc["Name"].lstrip("/")
        with self.lock:
            self.check_name(name)
            self.db.execute("INSERT INTO containers(id, name, doc) VALUES (?,?,?)",
                            (doc["Id"], name, json.dumps(doc)))
            self._written(doc["Id"])
            self._notify(doc["Id"])

    def save(self, doc: dict[str, Any]) -> None:
        with self.lock:
            try:
                self.db.execute("UPDATE containers SET doc=?, name=? WHERE id=?",
                                (json.dumps(doc), doc["Name"].lstrip("/"), doc["Id"]))
            finally:  # a write that failed midway: parsed again from what the db holds
                self._written(doc["Id"])
            self._notify(doc["Id"])

    def remove(self, container_id: str) -> None:
        with self.lock:
            self.db.execute("DELETE FROM containers WHERE id=?", (container_id,))
            self._written(container_id, removed=True)
            self._notify(container_id)

    def get(self, container_id: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT doc FROM containers WHERE id=?",
                              (container_id,)).fetchone()
        return json.loads(row["doc"]) if row else None

    def find(self, ref: str) -> dict[str, Any]:
        """By full id, by name, or by a unique id prefix: docker's order."""
        doc = self.get(ref)
        if doc:
            return doc
        row = self.db.execute("SELECT doc FROM containers WHERE name=?",
                              (ref.lstrip("/"),)).fetchone()
        if row:
            return json.loads(row["doc"])
        if ref and all(c in "0123456789abcdef" for c in ref):
            rows = self.db.execute("SELECT doc FROM containers WHERE id LIKE ?",
                                   (ref + "%",)).fetchall()
            if len(rows) == 1:
                return json.loads(rows[0]["doc"])
            if len(rows) > 1:
                raise Conflict(f"multiple IDs found with provided prefix: {ref}")
        raise NotFound(f"No such container: {ref}")

    def all(self) -> list[dict[str, Any]]:
        return [json.loads(r["doc"]) for r in self.db.execute("SELECT doc FROM containers")]

    def listed(self) -> list[Listed]:
        """Every container, for listings: each record parsed once per write rather than
        at every `ps` (1000 records took 37 ms to parse)."""
        with self.lock:
            if self._listed is None:
                self._listed = dict.fromkeys(r["id"] for r in
                                             self.db.execute("SELECT id FROM containers"))
            stale = [cid for cid, entry in self._listed.items() if entry is None]
            if stale:
                rows = self.db.execute("SELECT id, doc FROM containers") \
                    if len(stale) > 100 else \
                    self.db.execute(f"SELECT id, doc FROM containers WHERE id IN "
                                    f"({','.join('?' * len(stale))})", tuple(stale))
                for row in rows:
                    if self._listed.get(row["id"], True) is None:
                        self._listed[row["id"]] = Listed(json.loads(row["doc"]))
                for cid in stale:  # gone from the db meanwhile (never, under the lock)
                    if self._listed.get(cid) is None:
                        self._listed.pop(cid, None)
            return list(self._listed.values())

    def shared(self) -> list[dict[str, Any]]:
        """Every record, READ ONLY: the listing's parsed copies (each parsed once per
        write), for the daemon's own scans (re-adoption, DNS, who uses a volume or a
        network), which parsed all 1000 records at each call (40-90 ms). A caller that
        changes a record gets its own with get() or all()."""
        return [entry.doc for entry in self.listed()]

    def names(self) -> set[str]:
        return {r["name"] for r in self.db.execute("SELECT name FROM containers")}
