"""DATA/state.db: SQLite in WAL mode, the one source of truth for darse's objects.

Each package declares its tables (CREATE TABLE IF NOT EXISTS ...); this module only
opens the database the same way for all of them.
"""

from __future__ import annotations

import os
import sqlite3
import threading


class Database:
    """One connection per thread (sqlite3 objects must not cross threads)."""

    def __init__(self, path: str) -> None:
        self.path = path
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self._local = threading.local()
        self._lock = threading.RLock()

    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
        return conn

    def execute(self, sql: str, params: tuple = ()) -> sqlite3.Cursor:
        return self.conn().execute(sql, params)

    def schema(self, script: str) -> None:
        self.conn().executescript(script)

    def transaction(self) -> _Transaction:
        return _Transaction(self)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, serialised within the process as well."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db._lock.acquire()
        conn = self.db.conn()
        conn.execute("BEGIN IMMEDIATE")
        return conn

    def __exit__(self, exc_type: type | None, *rest: object) -> None:
        try:
            self.db.conn().execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self.db._lock.release()
