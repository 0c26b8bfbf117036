"""Pod sandboxes and their containers in state.db, in tables of their own: the Docker
API's `containers` never lists them (`darse ps`), and their names live apart.

Each record is one JSON document; the CRI configs inside are the requests' messages as
dicts (protobuf's JSON mapping, field names as in the .proto)."""

from __future__ import annotations

import json
import threading
from typing import Any

from darse.db import Database
from darse.errors import Conflict, NotFound

SCHEMA = """
CREATE TABLE IF NOT EXISTS cri_sandboxes (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    doc TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS cri_containers (
    id TEXT PRIMARY KEY,
    sandbox_id TEXT NOT NULL,
    name TEXT NOT NULL UNIQUE,
    doc TEXT NOT NULL
);
"""


class CriStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.db.schema(SCHEMA)
        self.lock = threading.RLock()

    # --- sandboxes -------------------------------------------------------------

    def add_sandbox(self, doc: dict[str, Any]) -> None:
        with self.lock:
            row = self.db.execute("SELECT id FROM cri_sandboxes WHERE name=?",
                                  (doc["name"],)).fetchone()
            if row:
                raise Conflict(f'the pod sandbox name "{doc["name"]}" is reserved for '
                               f'{row["id"]}')
            self.db.execute("INSERT INTO cri_sandboxes(id, name, doc) VALUES (?,?,?)",
                            (doc["id"], doc["name"], json.dumps(doc)))

    def save_sandbox(self, doc: dict[str, Any]) -> None:
        with self.lock:
            self.db.execute("UPDATE cri_sandboxes SET doc=? WHERE id=?",
                            (json.dumps(doc), doc["id"]))

    def remove_sandbox(self, sandbox_id: str) -> None:
        with self.lock:
            self.db.execute("DELETE FROM cri_sandboxes WHERE id=?", (sandbox_id,))

    def sandboxes(self) -> list[dict[str, Any]]:
        return [json.loads(r["doc"]) for r in
                self.db.execute("SELECT doc FROM cri_sandboxes ORDER BY rowid")]

    def sandbox(self, ref: str) -> dict[str, Any]:
        """By id or by a unique id prefix (crictl's short ids)."""
        return self._find("cri_sandboxes", ref, "pod sandbox")

    # --- containers ------------------------------------------------------------

    def add_container(self, doc: dict[str, Any]) -> None:
        with self.lock:
            row = self.db.execute("SELECT id FROM cri_containers WHERE name=?",
                                  (doc["name"],)).fetchone()
            if row:
                raise Conflict(f'the container name "{doc["name"]}" is reserved for '
                               f'{row["id"]}')
            self.db.execute("INSERT INTO cri_containers(id, sandbox_id, name, doc) "
                            "VALUES (?,?,?,?)",
                            (doc["id"], doc["sandbox_id"], doc["name"], json.dumps(doc)))

    def save_container(self, doc: dict[str, Any]) -> None:
        with self.lock:
            self.db.execute("UPDATE cri_containers SET doc=? WHERE id=?",
                            (json.dumps(doc), doc["id"]))

    def remove_container(self, container_id: str) -> None:
        with self.lock:
            self.db.execute("DELETE FROM cri_containers WHERE id=?", (container_id,))

    def containers(self, sandbox_id: str | None = None) -> list[dict[str, Any]]:
        if sandbox_id is None:
            rows = self.db.execute("SELECT doc FROM cri_containers ORDER BY rowid")
        else:
            rows = self.db.execute("SELECT doc FROM cri_containers WHERE sandbox_id=? "
                                   "ORDER BY rowid", (sandbox_id,))
        return [json.loads(r["doc"]) for r in rows]

    def container(self, ref: str) -> dict[str, Any]:
        return self._find("cri_containers", ref, "container")

    def _find(self, table: str, ref: str, what: str) -> dict[str, Any]:
        if ref and all(c in "0123456789abcdef" for c in ref):
            rows = self.db.execute(f"SELECT doc FROM {table} WHERE id LIKE ?",  # noqa: S608
                                   (ref + "%",)).fetchall()
            if len(rows) == 1:
                return json.loads(rows[0]["doc"])
            if len(rows) > 1:
                raise NotFound(f"{what} id {ref!r} is ambiguous")
        raise NotFound(f"{what} {ref!r} not found")
