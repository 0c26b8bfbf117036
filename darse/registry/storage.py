"""The registry's storage, all under one root:

    blobs/<alg>/<hex>                           content, written once, verified before renamed
    repositories/<name>/_layers/<alg>/<hex>     the blobs a repository may serve (empty files)
    repositories/<name>/_manifests/revisions/<alg>/<hex>   its manifests (the media type)
    repositories/<name>/_manifests/tags/<tag>   a tag (the digest it names)
    repositories/<name>/_referrers/<alg>/<hex>/<alg>-<hex> who names a subject (a descriptor)
    uploads/<uuid>/                             uploads in progress (darse.registry.sessions)

Blobs are global and repositories hold links, so a cross-repository mount or a second push
of a layer copies nothing. Every file a reader may open appears by rename(2), whole, after
its content is on disk: a reader sees a blob or a tag entirely or not at all. A blob is
linked into a repository only after it is in place, and a manifest only after every blob
and child it names is linked; gc.py takes blobs away only under the exclusive lock that
manifest writers hold shared.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
from collections.abc import Iterator

from darse.registry.errors import RegistryError
from darse.registry.manifests import Manifest
from darse.registry.names import check_digest, check_name, check_tag, is_digest


def _split(digest: str) -> tuple[str, str]:
    algorithm, _, hexd = check_digest(digest).partition(":")
    return algorithm, hexd


def write_atomic(path: str, data: bytes) -> None:
    """Write a small file whole, then rename it over its name: no reader sees it half-done."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = os.path.join(os.path.dirname(path), f".tmp-{secrets.token_hex(8)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(tmp, path)


class Storage:
    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(root)
        self.blobs = os.path.join(self.root, "blobs")
        self.repos = os.path.join(self.root, "repositories")
        self.uploads = os.path.join(self.root, "uploads")
        for d in (self.blobs, self.repos, self.uploads):
            os.makedirs(d, exist_ok=True)
        self.lock_path = os.path.join(self.root, "gc.lock")

    # --- the gc lock: manifest writers share it, gc holds it alone ------------------------

    def lock(self, exclusive: bool, wait: bool = True) -> int | None:
        """An fd holding the lock (flock: a separate open per holder, so it also works
        between threads of one process), or None if wait is False and it is taken."""
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        flags = (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | (0 if wait else
                                                                    fcntl.LOCK_NB)
        try:
            fcntl.flock(fd, flags)
        except BlockingIOError:
            os.close(fd)
            return None
        return fd

    @staticmethod
    def unlock(fd: int) -> None:
        os.close(fd)

    # --- blobs ----------------------------------------------------------------------------

    def blob_path(self, digest: str) -> str:
        algorithm, hexd = _split(digest)
        return os.path.join(self.blobs, algorithm, hexd)

    def _repo(self, name: str) -> str:
        return os.path.join(self.repos, check_name(name))

    def _layer_link(self, name: str, digest: str) -> str:
        algorithm, hexd = _split(digest)
        return os.path.join(self._repo(name), "_layers", algorithm, hexd)

    def exists(self, digest: str) -> bool:
        return os.path.exists(self.blob_path(digest))

    def has_blob(self, name: str, digest: str) -> bool:
        """The repository may serve the blob: it is linked there, and it is in the store."""
        return os.path.exists(self._layer_link(name, digest)) and self.exists(digest)

    def blob_size(self, name: str, digest: str) -> int:
        if not os.path.exists(self._layer_link(name, digest)):
            raise RegistryError("BLOB_UNKNOWN", detail={"digest": digest})
        try:
            return os.path.getsize(self.blob_path(digest))
        except FileNotFoundError:
            raise RegistryError("BLOB_UNKNOWN", detail={"digest": digest}) from None

    def touch(self, digest: str) -> None:
        """Mark a blob as in use by a push now: gc spares blobs younger than its grace."""
        try:
            os.utime(self.blob_path(digest))
        except FileNotFoundError:
            pass

    def link_blob(self, name: str, digest: str) -> None:
        link = self._layer_link(name, digest)
        if not os.path.exists(link):
            write_atomic(link, b"")
        self.touch(digest)

    def unlink_blob(self, name: str, digest: str) -> None:
        try:
            os.unlink(self._layer_link(name, digest))
        except FileNotFoundError:
            raise RegistryError("BLOB_UNKNOWN", detail={"digest": digest}) from None

    def commit_file(self, path: str, digest: str) -> None:
        """Publish a verified file as the blob digest (or drop it if the blob is there)."""
        target = self.blob_path(digest)
        if os.path.exists(target):
            os.unlink(path)
        else:
            with open(path, "rb") as f:
                os.fsync(f.fileno())
            os.makedirs(os.path.dirname(target), exist_ok=True)
            os.rename(path, target)
        self.touch(digest)

    def put_bytes(self, data: bytes, digest: str) -> None:
        target = self.blob_path(digest)
        if not os.path.exists(target):
            write_atomic(target, data)
        self.touch(digest)

    def read_blob(self, digest: str) -> bytes:
        with open(self.blob_path(digest), "rb") as f:
            return f.read()

    def blob_digests(self) -> Iterator[tuple[str, str]]:
        """(digest, path) of every blob in the store."""
        for algorithm in os.listdir(self.blobs):
            folder = os.path.join(self.blobs, algorithm)
            for hexd in os.listdir(folder):
                if not hexd.startswith("."):
                    yield f"{algorithm}:{hexd}", os.path.join(folder, hexd)

    # --- repositories ---------------------------------------------------------------------

    def repo_exists(self, name: str) -> bool:
        return os.path.isdir(self._repo(name))

    def repositories(self) -> list[str]:
        """Every repository name (a folder holding _manifests or _layers), sorted."""
        out = []
        for folder, dirs, _ in os.walk(self.repos):
            if "_manifests" in dirs or "_layers" in dirs:
                out.append(os.path.relpath(folder, self.repos))
            dirs[:] = [d for d in dirs if not d.startswith("_")]
        return sorted(out)

    # --- manifests and tags ---------------------------------------------------------------

    def _revision(self, name: str, digest: str) -> str:
        algorithm, hexd = _split(digest)
        return os.path.join(self._repo(name), "_manifests", "revisions", algorithm, hexd)

    def _tag(self, name: str, tag: str) -> str:
        return os.path.join(self._repo(name), "_manifests", "tags", check_tag(tag))

    def has_manifest(self, name: str, digest: str) -> bool:
        return os.path.exists(self._revision(name, digest)) and self.exists(digest)

    def resolve(self, name: str, reference: str) -> str:
        """The digest a tag or digest reference names in the repository."""
        if is_digest(reference):
            check_digest(reference)
            if self.has_manifest(name, reference):
                return reference
        else:
            try:
                with open(self._tag(name, reference)) as f:
                    return f.read().strip()
            except (FileNotFoundError, RegistryError):
                pass
        if not self.repo_exists(name):
            raise RegistryError("NAME_UNKNOWN", detail={"name": name})
        raise RegistryError("MANIFEST_UNKNOWN", detail={"reference": reference})

    def get_manifest(self, name: str, reference: str) -> tuple[bytes, str, str]:
        """(content, media type, digest) of a manifest by tag or digest."""
        digest = self.resolve(name, reference)
        try:
            with open(self._revision(name, digest)) as f:
                media = f.read()
            return self.read_blob(digest), media, digest
        except FileNotFoundError:
            raise RegistryError("MANIFEST_UNKNOWN", detail={"reference": reference}) from None

    def manifest_size(self, name: str, reference: str) -> tuple[int, str, str]:
        """(size, media type, digest) for HEAD, without reading the content."""
        digest = self.resolve(name, reference)
        try:
            with open(self._revision(name, digest)) as f:
                media = f.read()
            return os.path.getsize(self.blob_path(digest)), media, digest
        except FileNotFoundError:
            raise RegistryError("MANIFEST_UNKNOWN", detail={"reference": reference}) from None

    def put_manifest(self, name: str, reference: str, raw: bytes, digest: str,
                     manifest: Manifest) -> None:
        """Store a checked manifest; the caller holds the gc lock shared."""
        missing = [d.digest for d in manifest.blobs
                   if not d.foreign and not self.has_blob(name, d.digest)]
        missing += [d.digest for d in manifest.children if not self.has_manifest(name, d.digest)]
        if missing:
            raise RegistryError("MANIFEST_BLOB_UNKNOWN", detail={"digest": missing[0]})
        self.put_bytes(raw, digest)
        for d in manifest.blobs:
            if not d.foreign:
                self.touch(d.digest)
        if manifest.subject is not None:
            s_alg, s_hex = _split(manifest.subject.digest)
            algorithm, hexd = _split(digest)
            entry = {"mediaType": manifest.media_type, "digest": digest, "size": len(raw)}
            if manifest.artifact_type:
                entry["artifactType"] = manifest.artifact_type
            if manifest.annotations:
                entry["annotations"] = manifest.annotations
            write_atomic(os.path.join(self._repo(name), "_referrers", s_alg, s_hex,
                                      f"{algorithm}-{hexd}"), json.dumps(entry).encode())
        revision = self._revision(name, digest)
        if not os.path.exists(revision):
            write_atomic(revision, manifest.media_type.encode())
        if not is_digest(reference):
            write_atomic(self._tag(name, reference), digest.encode())

    def delete_manifest(self, name: str, reference: str) -> None:
        """By tag: the tag goes. By digest: the manifest, every tag naming it, and its
        referrers entry go."""
        if not is_digest(reference):
            try:
                os.unlink(self._tag(name, reference))
                return
            except FileNotFoundError:
                raise RegistryError("MANIFEST_UNKNOWN", detail={"reference": reference}
                                    ) from None
        digest = self.resolve(name, reference)
        try:
            raw = self.read_blob(digest)
        except FileNotFoundError:
            raw = b""
        for tag in self.tags(name):
            try:
                with open(self._tag(name, tag)) as f:
                    if f.read().strip() == digest:
                        os.unlink(self._tag(name, tag))
            except FileNotFoundError:
                pass
        try:
            subject = (json.loads(raw).get("subject") or {}).get("digest")
            s_alg, s_hex = _split(subject)
            algorithm, hexd = _split(digest)
            os.unlink(os.path.join(self._repo(name), "_referrers", s_alg, s_hex,
                                   f"{algorithm}-{hexd}"))
        except (ValueError, AttributeError, TypeError, RegistryError, FileNotFoundError):
            pass
        os.unlink(self._revision(name, digest))

    def tags(self, name: str) -> list[str]:
        if not self.repo_exists(name):
            raise RegistryError("NAME_UNKNOWN", detail={"name": name})
        try:
            names = os.listdir(os.path.join(self._repo(name), "_manifests", "tags"))
        except FileNotFoundError:
            return []
        return sorted(t for t in names if not t.startswith("."))

    def manifest_revisions(self, name: str) -> list[str]:
        folder = os.path.join(self._repo(name), "_manifests", "revisions")
        out = []
        for algorithm in os.listdir(folder) if os.path.isdir(folder) else []:
            out += [f"{algorithm}:{h}" for h in os.listdir(os.path.join(folder, algorithm))
                    if not h.startswith(".")]
        return out

    def layer_links(self, name: str) -> list[tuple[str, str]]:
        folder = os.path.join(self._repo(name), "_layers")
        out = []
        for algorithm in os.listdir(folder) if os.path.isdir(folder) else []:
            out += [(f"{algorithm}:{h}", os.path.join(folder, algorithm, h))
                    for h in os.listdir(os.path.join(folder, algorithm)) if not h.startswith(".")]
        return out

    def referrers(self, name: str, digest: str, artifact_type: str | None) -> list[dict]:
        """The descriptors of the manifests whose subject is digest, oldest first."""
        algorithm, hexd = _split(digest)
        folder = os.path.join(self._repo(name), "_referrers", algorithm, hexd)
        entries = []
        for entry in os.listdir(folder) if os.path.isdir(folder) else []:
            if entry.startswith("."):
                continue
            path = os.path.join(folder, entry)
            try:
                with open(path, "rb") as f:
                    descriptor = json.loads(f.read())
                mtime = os.stat(path).st_mtime_ns
            except FileNotFoundError:
                continue
            if not self.has_manifest(name, descriptor["digest"]):
                continue
            if artifact_type is None or descriptor.get("artifactType") == artifact_type:
                entries.append((mtime, descriptor["digest"], descriptor))
        return [d for _, _, d in sorted(entries, key=lambda e: (e[0], e[1]))]
