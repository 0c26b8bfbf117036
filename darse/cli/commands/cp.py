"""darse cp: files between a container and the local filesystem, both ways, with the
docker CLI's rules for where a copy lands (an existing folder receives it, a missing
name is given to it, 'dir/.' copies a folder's content) and its messages."""

from __future__ import annotations

import base64
import json
import os
import stat
import sys
import tarfile
import tempfile

from darse.cli import Parser
from darse.cli.client import APIError, Client
from darse.fs import tarstream
from darse.fs.root import Meta, Root, UnsafePath

TYPE_CHECKING = False  # typing costs milliseconds on every command
if TYPE_CHECKING:
    from typing import IO, Any

_GO_DIR = 1 << 31


class CopyError(Exception):
    """A local refusal, printed as it is (the docker CLI's words)."""


def _split(arg: str) -> tuple[str | None, str]:
    """'container:path' or a local path (one starting with / or . is always local)."""
    if arg.startswith(("/", ".")) or ":" not in arg:
        return None, arg
    container, _, path = arg.partition(":")
    return container, path


def _stat(client: Client, container: str, path: str) -> dict[str, Any]:
    status, headers = client.head(f"/containers/{container}/archive", {"path": path})
    if status == 404:
        raise CopyError(f"Error: No such container:path: {container}:{path}")
    if status >= 400:
        raise APIError(status, f"stat {container}:{path}: HTTP {status}")
    return json.loads(base64.b64decode(headers["x-docker-container-path-stat"]))


def _is_dir(info: dict[str, Any]) -> bool:
    return bool(info["mode"] & _GO_DIR)


def _copy_content(path: str) -> bool:
    return path.endswith("/.") or path == "."


def cp(client: Client, argv: list[str]) -> int:
    p = Parser(prog="darse cp")
    p.add_argument("-a", "--archive", action="store_true")
    p.add_argument("-L", "--follow-link", action="store_true")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("src", metavar="CONTAINER:SRC_PATH")
    p.add_argument("dst", metavar="DEST_PATH|-\n\tdarse cp [OPTIONS] SRC_PATH|- "
                   "CONTAINER:DEST_PATH")
    args = p.parse_args(argv)
    src_c, src = _split(args.src)
    dst_c, dst = _split(args.dst)
    try:
        if src_c is not None and dst_c is not None:
            raise CopyError("copying between containers is not supported")
        if src_c is None and dst_c is None:
            raise CopyError("must specify at least one container source")
        if src_c is not None:
            return _from_container(client, src_c, src, dst, args.follow_link)
        return _to_container(client, src, dst_c, dst, args.archive, args.follow_link)
    except CopyError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except APIError as exc:
        if exc.status == 404 and dst_c is not None:
            print(f"Error: No such container:path: {dst_c}:{os.path.dirname(dst) or '/'}",
                  file=sys.stderr)
            return 1
        if exc.status == 404 and src_c is not None:
            print(f"Error: No such container:path: {src_c}:{src}", file=sys.stderr)
            return 1
        raise


# --- from a container ------------------------------------------------------------------


def _from_container(client: Client, container: str, path: str, dst: str,
                    follow: bool) -> int:
    rebase = None
    if follow:
        info = _stat(client, container, path)
        if info["mode"] & (1 << 27) and info["linkTarget"]:
            rebase = os.path.basename(path.rstrip("/")) or None
            path = info["linkTarget"]
    resp = client.request("GET", f"/containers/{container}/archive", {"path": path})
    try:
        if dst == "-":
            while chunk := resp.read1(1 << 20):
                sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()
            return 0
        info = json.loads(base64.b64decode(resp.headers["x-docker-container-path-stat"]))
        src_name = rebase or info["name"]
        src_dir = _is_dir(info)
        into, top = _local_target(dst, src_dir, src_name, _copy_content(path))
        _untar_local(resp, into, info["name"], top)
    finally:
        resp.close()
    return 0


def _local_target(dst: str, src_dir: bool, src_name: str, content: bool
                  ) -> tuple[str, str | None]:
    """(the local folder to extract into, the name the copy's top entry takes there:
    None for a folder's content)."""
    try:
        st = os.stat(dst)
    except FileNotFoundError:
        st = None
    except NotADirectoryError:
        raise CopyError(f"stat {os.path.abspath(dst)}{'/' if dst.endswith('/') else ''}: "
                        "not a directory") from None
    if st is not None and stat.S_ISDIR(st.st_mode):
        return dst, None if (src_dir and content) else src_name
    if st is not None:
        if src_dir:
            raise CopyError("cannot copy directory")
        return os.path.dirname(os.path.abspath(dst)), os.path.basename(dst)
    if dst.endswith("/") and not src_dir:
        raise CopyError("no such directory")
    parent = os.path.dirname(os.path.abspath(dst.rstrip("/")))
    if not os.path.isdir(parent):
        raise CopyError(f'invalid output path: directory "{parent}" does not exist')
    return parent, os.path.basename(dst.rstrip("/"))


class _Reader:
    def __init__(self, resp: Any) -> None:
        self.resp = resp

    def read(self, n: int = -1) -> bytes:
        return self.resp.read(n)


def _untar_local(resp: Any, into: str, name: str, top: str | None) -> None:
    """The container's tar into the local folder `into`, its top entry renamed to top
    (or its content merged into `into`): written through darse.fs, so no entry of the
    container's tar lands outside `into` or through a link. Files are the caller's, as
    the docker CLI leaves them (no chown)."""
    base = name.rstrip("/") or "/"
    dir_times: list[tuple[tuple[str, ...], int]] = []
    owner = (os.getuid(), os.getgid())
    with Root(os.path.realpath(into)) as root, \
            tarfile.open(fileobj=_Reader(resp), mode="r|") as tf:
        for ti in tf:
            rel = ti.name.rstrip("/")
            if rel == base or rel == name:
                rest: list[str] = []
            elif rel.startswith(base.rstrip("/") + "/"):
                rest = rel[len(base.rstrip("/")) + 1:].split("/")
            else:
                continue
            parts = tuple(p for p in ([top] if top else []) + rest if p not in ("", "."))
            if any(p == ".." for p in parts):
                raise CopyError(f"invalid tar entry: {ti.name}")
            if not parts:
                continue  # the folder whose content is merged into `into`
            existing = root.lstat(parts)
            if existing is not None and stat.S_ISDIR(existing.st_mode) != ti.isdir():
                here, where = os.path.join(os.path.abspath(into), *parts), os.path.abspath(into)
                raise CopyError(f'cannot overwrite directory "{here}" with non-directory '
                                f'"{where}"' if not ti.isdir() else f'cannot overwrite '
                                f'non-directory "{here}" with directory "{where}"')
            mtime = int(ti.mtime * 1_000_000_000)
            meta = Meta(*owner, ti.mode & 0o7777, {}, mtime, mtime)
            try:
                if ti.isdir():
                    meta.mtime_ns = None
                    root.mkdir(parts, meta)
                    dir_times.append((parts, mtime))
                elif ti.isreg():
                    root.write(parts, tf.extractfile(ti), meta)
                elif ti.issym():
                    meta.mode = None
                    root.symlink(parts, ti.linkname, meta)
                elif ti.islnk():
                    target = ti.linkname.rstrip("/")
                    if target.startswith(base + "/"):
                        tparts = tuple(([top] if top else []) +
                                       target[len(base) + 1:].split("/"))
                        root.hardlink(parts, tparts)
                elif ti.isfifo():
                    root.mknod(parts, stat.S_IFIFO | 0o600, 0, meta)
            except UnsafePath as exc:
                raise CopyError(str(exc)) from None
        for parts, mtime in reversed(dir_times):
            root.set_times(parts, mtime, mtime)


# --- into a container ------------------------------------------------------------------


def _to_container(client: Client, src: str, container: str, dst: str, archive: bool,
                  follow: bool) -> int:
    query = {"noOverwriteDirNonDir": "true", "copyUIDGID": "true" if archive else None}
    if src == "-":
        try:
            info = _stat(client, container, dst)
        except CopyError:
            info = None
        if info is not None and info["mode"] & (1 << 27):
            info = _stat(client, container, info["linkTarget"])
        if info is None or not _is_dir(info):
            raise CopyError(f'destination "{container}:{dst}" must be a directory')
        client.request("PUT", f"/containers/{container}/archive", {"path": dst, **query},
                       body=sys.stdin.buffer).close()
        return 0
    name = os.path.basename(os.path.abspath(src).rstrip("/"))  # a followed link's own name
    local = os.path.realpath(src) if follow else os.path.abspath(src)
    if src.endswith("/") or _copy_content(src):
        local = os.path.realpath(src)
    try:
        st = os.lstat(local)
    except OSError as exc:
        raise CopyError(f"lstat {os.path.abspath(src)}: {exc.strerror.lower()}") from None
    src_dir = stat.S_ISDIR(st.st_mode)
    content = _copy_content(src) and src_dir
    try:
        info = _stat(client, container, dst)
    except CopyError:
        info = None
    if info is not None and info["mode"] & (1 << 27) and info["linkTarget"]:
        dst = info["linkTarget"]
        try:
            info = _stat(client, container, dst)
        except CopyError:
            info = None
    if info is not None and _is_dir(info):
        into, top = dst, None if content else name
    elif info is not None:
        if src_dir:
            raise CopyError("cannot copy directory")
        into, top = os.path.dirname(dst.rstrip("/")) or "/", os.path.basename(dst)
    else:
        if dst.endswith("/"):
            raise CopyError("no such directory")
        into, top = os.path.dirname(dst) or "/", os.path.basename(dst)
    with tempfile.TemporaryFile() as tmp:
        _tar_local(local, content, top, tmp)
        tmp.seek(0)
        client.request("PUT", f"/containers/{container}/archive", {"path": into, **query},
                       body=tmp).close()
    return 0


def _tar_local(local: str, content: bool, top: str | None, out: IO[bytes]) -> None:
    writer = tarstream.TarWriter(out)
    if content:
        with Root(local) as root:
            tarstream.write_tree(root, (), top or ".", writer)
    else:
        parent, name = os.path.split(local.rstrip("/") or "/")
        with Root(os.path.realpath(parent or "/")) as root:
            tarstream.write_tree(root, (name,), top or name, writer)
    writer.close()
