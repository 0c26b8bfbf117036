"""Layers: a tar stream (gzip, zstd or plain) unpacked safely into a snapshot directory.

Docker's whiteouts become overlayfs ones (`.wh.NAME` -> a 0/0 character device NAME,
`.wh..wh..opq` -> the trusted.overlay.opaque xattr). Every entry is created through
directory file descriptors opened with O_NOFOLLOW, so no entry can write outside the
snapshot: not through `..`, not through a symlink or a hardlink the layer itself made.
Such a layer is refused. The digests of the compressed and uncompressed streams are
computed while the bytes flow, in one pass.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import tarfile
import zlib
from collections.abc import Callable

from darse.errors import InvalidArgument

CHUNK = 1 << 20
WHITEOUT_PREFIX = ".wh."
OPAQUE = ".wh..wh..opq"
_O_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class UnsafeLayer(InvalidArgument):
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
        self.dec = zlib.decompressobj(wbits=47)
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
                self.dec = zlib.decompressobj(wbits=47)
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


def _clean(name: str) -> list[str]:
    """Entry name -> path components inside the snapshot; refuse any way out."""
    parts: list[str] = []
    for part in name.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                raise UnsafeLayer(f"layer entry {name!r} points outside the image")
            parts.pop()
            continue
        parts.append(part)
    return parts


class _Extractor:
    def __init__(self, dest: str) -> None:
        self.root = os.open(dest, _O_DIR)
        self.fds: dict[tuple[str, ...], int] = {(): self.root}
        self.dir_times: list[tuple[tuple[str, ...], float]] = []

    def close(self) -> None:
        for fd in self.fds.values():
            os.close(fd)
        self.fds.clear()

    def dir_fd(self, parts: tuple[str, ...], create: bool = True) -> int:
        """An fd for a directory inside the snapshot, never through a symlink."""
        fd = self.fds.get(parts)
        if fd is not None:
            return fd
        parent = self.dir_fd(parts[:-1], create)
        name = parts[-1]
        try:
            fd = os.open(name, _O_DIR, dir_fd=parent)
        except FileNotFoundError:
            if not create:
                raise
            os.mkdir(name, 0o755, dir_fd=parent)
            fd = os.open(name, _O_DIR, dir_fd=parent)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                raise UnsafeLayer(f"layer entry goes through the link or file "
                                  f"{'/'.join(parts)!r}") from None
            raise
        self.fds[parts] = fd
        return fd

    def _forget(self, parts: tuple[str, ...]) -> None:
        for key in [k for k in self.fds if k[:len(parts)] == parts and k]:
            os.close(self.fds.pop(key))

    def _remove(self, parent: int, name: str, parts: tuple[str, ...]) -> None:
        try:
            st = os.stat(name, dir_fd=parent, follow_symlinks=False)
        except FileNotFoundError:
            return
        if stat.S_ISDIR(st.st_mode):
            import shutil

            self._forget(parts)
            shutil.rmtree(name, dir_fd=parent)  # fd-based: never follows a symlink
        else:
            os.unlink(name, dir_fd=parent)

    def entry(self, tf: tarfile.TarFile, ti: tarfile.TarInfo) -> None:
        parts = _clean(ti.name)
        if not parts:
            return  # the root itself
        *dirs, name = parts
        parent = self.dir_fd(tuple(dirs))
        if name == OPAQUE:
            fd = self.dir_fd(tuple(dirs))
            os.setxattr(fd, "trusted.overlay.opaque", b"y")
            return
        if name.startswith(WHITEOUT_PREFIX):
            target = name[len(WHITEOUT_PREFIX):]
            self._remove(parent, target, tuple(parts[:-1]) + (target,))
            os.mknod(target, stat.S_IFCHR | 0o000, os.makedev(0, 0), dir_fd=parent)
            return
        key = tuple(parts)
        if ti.isdir():
            try:
                st = os.stat(name, dir_fd=parent, follow_symlinks=False)
                if not stat.S_ISDIR(st.st_mode):
                    self._remove(parent, name, key)
                    os.mkdir(name, 0o755, dir_fd=parent)
            except FileNotFoundError:
                os.mkdir(name, 0o755, dir_fd=parent)
            self.dir_times.append((key, ti.mtime))
        else:
            self._remove(parent, name, key)
            if ti.isreg():
                fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                             | os.O_CLOEXEC, 0o600, dir_fd=parent)
                try:
                    src = tf.extractfile(ti)
                    while True:
                        chunk = src.read(CHUNK)
                        if not chunk:
                            break
                        os.write(fd, chunk)
                finally:
                    os.close(fd)
            elif ti.issym():
                os.symlink(ti.linkname, name, dir_fd=parent)
            elif ti.islnk():
                self._hardlink(ti, parent, name)
                return  # a hard link shares the target's inode: metadata is the target's
            elif ti.ischr() or ti.isblk() or ti.isfifo():
                kind = stat.S_IFCHR if ti.ischr() else stat.S_IFBLK if ti.isblk() else stat.S_IFIFO
                os.mknod(name, kind | 0o600, os.makedev(ti.devmajor, ti.devminor), dir_fd=parent)
            else:
                return  # sockets and unknown types carry no data
        os.chown(name, ti.uid, ti.gid, dir_fd=parent, follow_symlinks=False)
        if not ti.issym():
            os.chmod(name, ti.mode & 0o7777, dir_fd=parent)
            # After chown, which drops file capabilities (security.capability).
            if ti.isdir():
                self._xattrs(self.dir_fd(key), ti)
            elif ti.isreg() and any(k.startswith("SCHILY.xattr.") for k in ti.pax_headers):
                fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent)
                try:
                    self._xattrs(fd, ti)
                finally:
                    os.close(fd)
        os.utime(name, (ti.mtime, ti.mtime), dir_fd=parent, follow_symlinks=False)

    def _hardlink(self, ti: tarfile.TarInfo, parent: int, name: str) -> None:
        target = _clean(ti.linkname)
        if not target:
            raise UnsafeLayer(f"layer entry {ti.name!r} links to the image root")
        tparent = self.dir_fd(tuple(target[:-1]), create=False)
        try:
            os.link(target[-1], name, src_dir_fd=tparent, dst_dir_fd=parent,
                    follow_symlinks=False)
        except FileNotFoundError:
            raise InvalidArgument(f"layer entry {ti.name!r}: hard link target "
                                  f"{ti.linkname!r} is not in the layer") from None

    @staticmethod
    def _xattrs(fd: int, ti: tarfile.TarInfo) -> None:
        for key, value in (ti.pax_headers or {}).items():
            if key.startswith("SCHILY.xattr."):
                raw = value.encode("utf-8", "surrogateescape")
                os.setxattr(fd, key[len("SCHILY.xattr."):], raw)

    def finish(self) -> None:
        for key, mtime in reversed(self.dir_times):
            *dirs, name = key
            try:
                os.utime(name, (mtime, mtime), dir_fd=self.dir_fd(tuple(dirs), create=False),
                         follow_symlinks=False)
            except OSError:
                pass


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
        except (EOFError, zlib.error) as exc:
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


def pack_to_blob(content, diff_dir: str, skip: tuple[str, ...] = ()  # noqa: ANN001
                 ) -> tuple[str, int, str, int]:
    """pack() gzip-compressed into the content store: (blob digest, blob size, DiffID,
    tar size)."""
    import gzip

    with content.writer() as w:
        with gzip.GzipFile(fileobj=w, mode="wb", compresslevel=6, mtime=0) as gz:
            diff_id, size = pack(diff_dir, gz, skip)
        blob = w.commit()
    return blob, content.size(blob), diff_id, size
