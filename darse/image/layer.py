"""Layers: a tar stream (gzip, zstd or plain) unpacked safely into a snapshot directory.

Docker's whiteouts become overlayfs ones (`.wh.NAME` -> a 0/0 character device NAME,
`.wh..wh..opq` -> the trusted.overlay.opaque xattr). Every entry is created through
directory file descriptors opened with O_NOFOLLOW, so no entry can write outside the
snapshot: not through `..`, not through a symlink or a hardlink the layer itself made.
Such a layer is refused. The writes are darse.fs.root's, as are those of every other
copy into a folder that content controls. The digests of the compressed and uncompressed
streams are computed while the bytes flow, in one pass.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tarfile
import zlib
from collections.abc import Callable

from darse.errors import InvalidArgument
from darse.fs.root import Meta, Parts, Root, UnsafePath, clean

try:  # ISA-L's inflate: 2-3 times zlib's speed on a layer (bench/pull.py)
    from isal import isal_zlib as _inflate
except ImportError:  # pragma: no cover - isal is a dependency; zlib does the same work
    _inflate = zlib

CHUNK = 1 << 20
_BAD_DATA = (EOFError, zlib.error, _inflate.error)
WHITEOUT_PREFIX = ".wh."
OPAQUE = ".wh..wh..opq"


class UnsafeLayer(UnsafePath):
    """A layer entry that would write outside its snapshot."""


class HashReader:
    """A read() wrapper that hashes (and optionally copies elsewhere) what passes."""

    def __init__(self, raw, tee: Callable[[bytes], None] | None = None,  # noqa: ANN001
                 progress: Callable[[int], None] | None = None) -> None:
        self.raw, self.tee, self.progress = raw, tee, progress
        self.hash = hashlib.sha256()
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        if data:
            self.hash.update(data)
            self.size += len(data)
            if self.tee:
                self.tee(data)
            if self.progress:
                self.progress(len(data))
        return data

    def drain(self) -> None:
        while self.read(CHUNK):
            pass

    @property
    def digest(self) -> str:
        return "sha256:" + self.hash.hexdigest()


class _GzipReader:
    """Streaming gzip (all members), decompressing as bytes arrive. read(n) decompresses
    at most n bytes (zlib's max_length), so no large buffer is ever sliced."""

    def __init__(self, raw) -> None:  # noqa: ANN001
        self.raw = raw
        self.dec = _inflate.decompressobj(wbits=47)
        self.pending = b""
        self.eof = False

    def read(self, n: int = -1) -> bytes:
        if n < 0:
            return b"".join(iter(lambda: self.read(CHUNK), b""))
        out = []
        need = n
        while need > 0 and not self.eof:
            data = self.dec.unconsumed_tail or self.pending or self.raw.read(CHUNK)
            self.pending = b""
            if not data:
                self.eof = True
                break
            chunk = self.dec.decompress(data, need)
            need -= len(chunk)
            out.append(chunk)
            if self.dec.eof:  # end of a gzip member: another may follow
                self.pending = self.dec.unused_data
                self.dec = _inflate.decompressobj(wbits=47)
        return b"".join(out)


class _Prefixed:
    def __init__(self, prefix: bytes, raw) -> None:  # noqa: ANN001
        self.prefix, self.raw = prefix, raw

    def read(self, n: int = -1) -> bytes:
        if self.prefix:
            if n < 0:
                out, self.prefix = self.prefix + self.raw.read(), b""
                return out
            out, self.prefix = self.prefix[:n], self.prefix[n:]
            return out if len(out) == n else out + self.raw.read(n - len(out))
        return self.raw.read(n)


def decompressed(raw):  # noqa: ANN001, ANN201 - file-like in, file-like out
    """Detect the compression by its magic bytes, as Docker does."""
    head = raw.read(4)
    src = _Prefixed(head, raw)
    if head[:2] == b"\x1f\x8b":
        return _GzipReader(src)
    if head == b"\x28\xb5\x2f\xfd":
        import zstandard

        return zstandard.ZstdDecompressor().stream_reader(src, read_across_frames=True)
    return src


class _Extractor:
    """Tar entries into a Root: each made through directory fds, never through a link."""

    def __init__(self, dest: str) -> None:
        self.root = Root(dest)
        self.dir_times: list[tuple[Parts, int]] = []

    def close(self) -> None:
        self.root.close()

    def entry(self, tf: tarfile.TarFile, ti: tarfile.TarInfo) -> None:
        try:
            self._entry(tf, ti)
        except UnsafePath as exc:
            raise UnsafeLayer(f"layer entry {ti.name!r}: {exc}") from None

    def _entry(self, tf: tarfile.TarFile, ti: tarfile.TarInfo) -> None:
        parts = clean(ti.name)
        if not parts:
            return  # the root itself
        *dirs, name = parts
        if name == OPAQUE:
            self.root.dir_fd(tuple(dirs), create=True)
            self.root.set_xattr(tuple(dirs), "trusted.overlay.opaque", b"y")
            return
        if name.startswith(WHITEOUT_PREFIX):
            self.root.mknod((*dirs, name[len(WHITEOUT_PREFIX):]), stat.S_IFCHR,
                            os.makedev(0, 0))
            return
        meta = self._meta(ti)
        mtime = meta.mtime_ns
        if ti.isdir():
            meta.atime_ns = meta.mtime_ns = None  # set once its entries are in
            self.root.mkdir(parts, meta)
            self.dir_times.append((parts, mtime))
        elif ti.isreg():
            # A file that fits in a read is read straight from the archive's stream:
            # tarfile's file object for it costs more than the file's own system calls
            # (a layer of small files: ~40 us of ~130 a file). next() skips its padding.
            data = tf.fileobj.read(ti.size) if ti.size <= CHUNK and not ti.issparse() \
                else tf.extractfile(ti)
            if isinstance(data, bytes) and len(data) != ti.size:
                raise tarfile.ReadError("unexpected end of data")
            self.root.write(parts, data, meta)
        elif ti.issym():
            meta.mode, meta.xattrs = None, {}
            self.root.symlink(parts, ti.linkname, meta)
        elif ti.islnk():
            # A hard link shares its target's inode: the metadata is the target's.
            try:
                self.root.hardlink(parts, clean(ti.linkname))
            except FileNotFoundError:
                raise InvalidArgument(f"layer entry {ti.name!r}: hard link target "
                                      f"{ti.linkname!r} is not in the layer") from None
        elif ti.ischr() or ti.isblk() or ti.isfifo():
            kind = stat.S_IFCHR if ti.ischr() else stat.S_IFBLK if ti.isblk() else stat.S_IFIFO
            self.root.mknod(parts, kind | 0o600, os.makedev(ti.devmajor, ti.devminor), meta)
        # sockets and unknown types carry no data

    @staticmethod
    def _meta(ti: tarfile.TarInfo) -> Meta:
        xattrs = {k[len("SCHILY.xattr."):]: v.encode("utf-8", "surrogateescape")
                  for k, v in (ti.pax_headers or {}).items() if k.startswith("SCHILY.xattr.")}
        mtime = int(ti.mtime * 1_000_000_000)
        return Meta(ti.uid, ti.gid, ti.mode & 0o7777, xattrs, mtime, mtime)

    def finish(self) -> None:
        for parts, mtime in reversed(self.dir_times):
            try:
                self.root.set_times(parts, mtime, mtime)
            except (OSError, UnsafePath):
                pass  # replaced by a later entry


def unpack(stream, dest: str) -> tuple[str, int]:  # noqa: ANN001
    """Unpack a (possibly compressed) layer stream into dest, an empty directory.

    Returns the DiffID (sha256 of the uncompressed tar) and its size. The caller reads
    the compressed digest from its own HashReader around `stream`.
    """
    plain = HashReader(decompressed(stream))
    ex = _Extractor(dest)
    try:
        try:
            with tarfile.open(fileobj=plain, mode="r|", errorlevel=2) as tf:
                for ti in tf:
                    ex.entry(tf, ti)
        except tarfile.TarError as exc:
            raise InvalidArgument(f"invalid layer tar: {exc}") from None
        except _BAD_DATA as exc:
            raise InvalidArgument(f"invalid layer data: {exc}") from None
        ex.finish()
    finally:
        ex.close()
    plain.drain()  # tar's end-of-archive blocks count in the DiffID
    return plain.digest, plain.size


class _HashWriter:
    """write() that hashes and counts what passes on to target."""

    def __init__(self, target) -> None:  # noqa: ANN001
        self.target = target
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.hash.update(data)
        self.size += len(data)
        self.target.write(data)
        return len(data)

    def flush(self) -> None:
        pass

    @property
    def digest(self) -> str:
        return "sha256:" + self.hash.hexdigest()


def _is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def pack(diff_dir: str, out, skip: tuple[str, ...] = ()) -> tuple[str, int]:  # noqa: ANN001
    """Write a snapshot directory (overlay upper) as a layer tar to out, overlay whiteouts
    turned back into Docker's (.wh.NAME, .wh..wh..opq); returns (DiffID, size)."""
    hashed = _HashWriter(out)
    with tarfile.open(fileobj=hashed, mode="w|", format=tarfile.PAX_FORMAT) as tf:
        for root, dirs, files in os.walk(diff_dir):
            dirs.sort()
            rel = os.path.relpath(root, diff_dir)
            rel = "" if rel == "." else rel
            if rel:
                tf.add(root, arcname=rel, recursive=False)
            try:
                if os.getxattr(root, "trusted.overlay.opaque") == b"y":
                    ti = tarfile.TarInfo(os.path.join(rel, OPAQUE))
                    tf.addfile(ti)
            except OSError:
                pass
            for name in sorted(files) + [d for d in dirs if os.path.islink(
                    os.path.join(root, d))]:
                path = os.path.join(root, name)
                arc = os.path.join(rel, name)
                if arc in skip:
                    continue
                st = os.lstat(path)
                if _is_whiteout(st):
                    tf.addfile(tarfile.TarInfo(os.path.join(rel, WHITEOUT_PREFIX + name)))
                    continue
                tf.add(path, arcname=arc, recursive=False)
    return hashed.digest, hashed.size


def gzip_writer(out):  # noqa: ANN001, ANN201 - file-like in, file-like out
    """A gzip stream onto out, as layer blobs are written: ISA-L's level 2 when there
    (20 MB of text: 0.07 s and 8.1 MB, against zlib's level 6 1.1 s and 7.2 MB, level 1
    0.32 s and 9.3 MB), no name nor time in its header so that the digest is the
    content's."""
    try:
        from isal import igzip

        return igzip.IGzipFile(fileobj=out, mode="wb", compresslevel=2, mtime=0)
    except ImportError:  # pragma: no cover - isal is a dependency
        import gzip

        return gzip.GzipFile(fileobj=out, mode="wb", compresslevel=6, mtime=0)


def pack_to_blob(content, diff_dir: str, skip: tuple[str, ...] = ()  # noqa: ANN001
                 ) -> tuple[str, int, str, int]:
    """pack() gzip-compressed into the content store: (blob digest, blob size, DiffID,
    tar size)."""
    with content.writer() as w:
        with gzip_writer(w) as gz:
            diff_id, size = pack(diff_dir, gz, skip)
        blob = w.commit()
    return blob, content.size(blob), diff_id, size
