"""Garbage collection: blobs that no manifest references, and uploads left behind.

Safe online, against a concurrent push: gc marks and sweeps under the storage's exclusive
lock, which every manifest write holds shared, so no manifest appears between the mark and
the sweep; and it spares any blob younger than `grace` seconds, because a push sends (or
asks for, by HEAD or mount, which touch it) its blobs before the manifest naming them.
A push that takes longer than grace between its blobs and its manifest can lose a blob:
its manifest PUT then fails with MANIFEST_BLOB_UNKNOWN and the client pushes it again.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field

from darse.registry.sessions import Sessions
from darse.registry.storage import Storage

GRACE = 3600.0          # seconds a blob not yet referenced is kept
UPLOAD_TTL = 86400.0    # seconds an upload may sit idle before it is abandoned


@dataclass
class Report:
    blobs: list[str] = field(default_factory=list)
    freed: int = 0
    uploads: list[str] = field(default_factory=list)
    links: int = 0


def _references(raw: bytes) -> list[str]:
    """The digests a stored manifest keeps alive: its config, layers, children."""
    try:
        doc = json.loads(raw)
    except ValueError:
        return []
    refs = [doc.get("config")] + list(doc.get("layers") or []) + list(doc.get("manifests") or [])
    return [d["digest"] for d in refs if isinstance(d, dict) and isinstance(d.get("digest"), str)]


def mark(storage: Storage) -> set[str]:
    live: set[str] = set()
    for name in storage.repositories():
        for digest in storage.manifest_revisions(name):
            live.add(digest)
            try:
                live.update(_references(storage.read_blob(digest)))
            except FileNotFoundError:
                continue
    return live


def collect(storage: Storage, grace: float = GRACE, upload_ttl: float = UPLOAD_TTL,
            dry_run: bool = False) -> Report:
    report = Report()
    if not dry_run:
        report.uploads = Sessions(storage).purge(upload_ttl)
    started = time.time()
    fd = storage.lock(exclusive=True)
    try:
        live = mark(storage)
        for digest, path in list(storage.blob_digests()):
            try:
                st = os.stat(path)
            except FileNotFoundError:
                continue
            if digest in live or st.st_mtime > started - grace:
                continue
            report.blobs.append(digest)
            report.freed += st.st_size
            if not dry_run:
                os.unlink(path)
        if not dry_run:
            # Links to blobs that are gone would make a HEAD lie about nothing; drop them.
            for name in storage.repositories():
                for digest, link in storage.layer_links(name):
                    if not storage.exists(digest):
                        os.unlink(link)
                        report.links += 1
    finally:
        storage.unlock(fd)
    return report
