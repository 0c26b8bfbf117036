"""Uploads in progress (OCI distribution spec v1.1, "Pushing blobs"): one folder per upload
under ROOT/uploads, its bytes in `data`, the repository it was opened for in `repo`.

The running digest of each upload is kept in memory while its chunks arrive in order, so
completing it costs no second read; an upload resumed after a restart is hashed again from
its file. Nothing here is visible to a reader: only Storage.commit_file, after the digest
is checked, makes an upload a blob.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import time
import uuid as uuidlib
from dataclasses import dataclass, field

from darse.registry.errors import RegistryError
from darse.registry.names import check_digest
from darse.registry.storage import Storage

# sha512 uploads are rare: they are hashed from their file on completion.
HASHED = ("sha256",)
BATCH = 1 << 20


@dataclass
class Session:
    uuid: str
    folder: str
    hashes: dict = field(default_factory=lambda: {a: hashlib.new(a) for a in HASHED})
    hashed: int = 0  # bytes fed to hashes
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def data(self) -> str:
        return os.path.join(self.folder, "data")

    def size(self) -> int:
        return os.path.getsize(self.data)


class Sessions:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.live: dict[str, Session] = {}

    def start(self, name: str) -> Session:
        uuid = str(uuidlib.uuid4())
        folder = os.path.join(self.storage.uploads, uuid)
        os.makedirs(folder)
        with open(os.path.join(folder, "repo"), "w") as f:
            f.write(name)
        open(os.path.join(folder, "data"), "wb").close()
        session = self.live[uuid] = Session(uuid, folder)
        return session

    def get(self, name: str, uuid: str) -> Session:
        """The upload uuid of repository name, or BLOB_UPLOAD_UNKNOWN."""
        try:
            if str(uuidlib.UUID(uuid)) != uuid:  # only the form start() made names a folder
                raise ValueError(uuid)
            folder = os.path.join(self.storage.uploads, uuid)
            with open(os.path.join(folder, "repo")) as f:
                if f.read() != name:
                    raise FileNotFoundError
        except (ValueError, FileNotFoundError):
            raise RegistryError("BLOB_UPLOAD_UNKNOWN", detail={"uuid": uuid}) from None
        session = self.live.get(uuid)
        if session is None:
            session = self.live[uuid] = Session(uuid, folder)
        return session

    async def append(self, session: Session, body: asyncio.StreamReader,
                     start: int | None, length: int | None) -> int:
        """Write body at the end of the upload; start (Content-Range) must be that end."""
        size = session.size()
        if start is not None and start != size:
            # Spec v1.1: a chunk out of order is answered 416.
            raise RegistryError("BLOB_UPLOAD_INVALID", f"upload is at {size}, chunk starts "
                                f"at {start}", status=416)
        in_order = session.hashed == size
        hashes = list(session.hashes.values()) if in_order else []
        loop = asyncio.get_running_loop()
        written = 0
        with open(session.data, "ab") as f:

            def sink(data: bytes) -> None:
                f.write(data)
                for h in hashes:
                    h.update(data)

            # Writing and hashing run in a thread, a batch at a time, while the next batch
            # is read: hashlib and write(2) release the GIL, so several uploads use
            # several cores, and the event loop never waits on the disk.
            batch = bytearray()
            pending: asyncio.Future | None = None
            try:
                while True:
                    chunk = await body.readany()
                    if chunk:
                        batch += chunk
                        written += len(chunk)
                    if batch and (len(batch) >= BATCH or not chunk):
                        if pending is not None:
                            await pending
                        pending = loop.run_in_executor(None, sink, bytes(batch))
                        batch.clear()
                    if not chunk:
                        break
            finally:
                # The file closes only after the last batch is on it (a client that goes
                # away mid-body leaves what arrived; its status says where to resume).
                if pending is not None:
                    await asyncio.wait([pending])
            if pending is not None:
                pending.result()  # a write that failed (disk full) fails the request
        if in_order:
            session.hashed += written
        if length is not None and written != length:
            # A short body: keep what the file holds, the client resumes from its status.
            raise RegistryError("SIZE_INVALID", detail={"expected": length, "got": written})
        return size + written

    def digest_of(self, session: Session, algorithm: str) -> str:
        size = session.size()
        if session.hashed != size or algorithm not in session.hashes:
            h = hashlib.new(algorithm)
            with open(session.data, "rb") as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
            return f"{algorithm}:{h.hexdigest()}"
        return f"{algorithm}:{session.hashes[algorithm].hexdigest()}"

    def finish(self, session: Session, digest: str) -> int:
        """Check the upload's content against digest and publish it as that blob."""
        algorithm = check_digest(digest).split(":")[0]
        actual = self.digest_of(session, algorithm)
        if actual != digest:
            self.cancel(session)
            raise RegistryError("DIGEST_INVALID", detail={"expected": digest,
                                                          "got": actual})
        size = session.size()
        self.storage.commit_file(session.data, digest)
        self.cancel(session)
        return size

    def cancel(self, session: Session) -> None:
        self.live.pop(session.uuid, None)
        shutil.rmtree(session.folder, ignore_errors=True)

    def purge(self, older_than: float) -> list[str]:
        """Remove the uploads untouched for older_than seconds (abandoned by their client)."""
        limit = time.time() - older_than
        gone = []
        for uuid in os.listdir(self.storage.uploads):
            folder = os.path.join(self.storage.uploads, uuid)
            try:
                mtime = max(os.stat(os.path.join(folder, n)).st_mtime for n in
                            os.listdir(folder)) if os.listdir(folder) else \
                    os.stat(folder).st_mtime
            except FileNotFoundError:
                continue
            if mtime < limit:
                session = self.live.get(uuid)
                if session is not None and session.lock.locked():
                    continue
                self.live.pop(uuid, None)
                shutil.rmtree(folder, ignore_errors=True)
                gone.append(uuid)
        return gone
