"""The content store: blobs addressed by their sha256 digest (DATA/blobs/sha256/HEX).

Every blob is written to a temporary file, hashed as it is written, and renamed into
place only if its digest (and size, when known) match: a blob in the store is always
what its name says.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Iterator

from darse.errors import InvalidArgument, NotFound
from darse.image.reference import validate_digest


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class BlobWriter:
    """A blob being ingested: write() chunks, then commit() checks and publishes it."""

    def __init__(self, store: ContentStore, hashed_by: Callable[[], str] | None = None
                 ) -> None:
        self.store = store
        fd, self.tmp = tempfile.mkstemp(dir=store.tmpdir, prefix="ingest-")
        self.file = os.fdopen(fd, "wb")
        self.hash = None if hashed_by else hashlib.sha256()
        self.hashed_by = hashed_by
        self.size = 0

    def write(self, chunk: bytes) -> int:
        if self.hash:
            self.hash.update(chunk)
        self.file.write(chunk)
        self.size += len(chunk)
        return len(chunk)

    def flush(self) -> None:
        pass

    @property
    def digest(self) -> str:
        return self.hashed_by() if self.hashed_by else "sha256:" + self.hash.hexdigest()

    def commit(self, expected: str | None = None, size: int | None = None) -> str:
        try:
            self.file.close()
        except BaseException:
            self.abort()
            raise
        digest = self.digest
        if expected is not None and digest != expected:
            self.abort()
            raise InvalidArgument(f"digest mismatch: expected {expected}, got {digest}")
        if size is not None and size != self.size:
            self.abort()
            raise InvalidArgument(f"size mismatch for {digest}: expected {size}, got {self.size}")
        os.rename(self.tmp, self.store.path(digest))
        return digest

    def abort(self) -> None:
        try:
            if not self.file.closed:
                self.file.close()  # a full disk fails the flush of what is buffered
        except OSError:
            pass
        finally:
            try:
                os.unlink(self.tmp)
            except FileNotFoundError:
                pass

    def __enter__(self) -> BlobWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if os.path.exists(self.tmp):
            self.abort()


class ContentStore:
    def __init__(self, root: str) -> None:
        self.root = os.path.join(root, "blobs")
        self.dir = os.path.join(self.root, "sha256")
        self.tmpdir = os.path.join(self.root, "ingest")
        os.makedirs(self.dir, exist_ok=True)
        os.makedirs(self.tmpdir, exist_ok=True)

    def path(self, digest: str) -> str:
        validate_digest(digest)
        return os.path.join(self.dir, digest.split(":", 1)[1])

    def has(self, digest: str) -> bool:
        return os.path.exists(self.path(digest))

    def size(self, digest: str) -> int:
        return os.path.getsize(self.path(digest))

    def writer(self, hashed_by: Callable[[], str] | None = None) -> BlobWriter:
        """A new blob; hashed_by: the digest of what was written, from whoever hashed
        the same bytes on their way here (a blob is hashed once)."""
        return BlobWriter(self, hashed_by)

    def put(self, data: bytes, expected: str | None = None) -> str:
        with self.writer() as w:
            w.write(data)
            return w.commit(expected)

    def read(self, digest: str) -> bytes:
        try:
            with open(self.path(digest), "rb") as f:
                return f.read()
        except FileNotFoundError:
            raise NotFound(f"blob {digest} not found") from None

    def open(self, digest: str):  # noqa: ANN201 - a binary file object
        try:
            return open(self.path(digest), "rb")
        except FileNotFoundError:
            raise NotFound(f"blob {digest} not found") from None

    def delete(self, digest: str) -> None:
        try:
            os.unlink(self.path(digest))
        except FileNotFoundError:
            pass

    def digests(self) -> Iterator[str]:
        for name in os.listdir(self.dir):
            yield "sha256:" + name
