"""The build context darsed receives: a tar indexed (tarcontext.py; links and `..` kept
inside it, `.wh.` names plain files), its Dockerfile read, then what .dockerignore
excludes taken out, the Dockerfile and .dockerignore themselves too when they are
listed (Docker's classic builder does the same)."""

from __future__ import annotations

import stat
from typing import IO

from darse.build import ignore
from darse.build.dockerfile import BadContext, read_dockerfile
from darse.build.tarcontext import TarContext
from darse.errors import InvalidArgument
from darse.fs.root import Parts

_MAX_IGNORE = 1 << 20


def remote(body: IO[bytes], url: str, tmpdir: str, dockerfile: str) -> IO[bytes]:
    """POST /build?remote=URL: an http(s) URL's tar (compressed or not) is the context;
    any other file it serves is the Dockerfile alone, as dockerd reads it."""
    import io
    import tarfile
    import tempfile
    import urllib.error
    import urllib.request

    body.close()
    if not url.startswith(("http://", "https://")):
        raise InvalidArgument(f"darse builds from http(s) URLs only, not from {url}: "
                              "clone the repository and build its folder")
    out = tempfile.TemporaryFile(dir=tmpdir)
    try:
        with urllib.request.urlopen(url, timeout=60) as resp:
            while chunk := resp.read(1 << 20):
                out.write(chunk)
    except (urllib.error.URLError, OSError) as exc:
        out.close()
        raise BadContext(f"unable to prepare context: unable to download remote context "
                         f"{url}: {exc}") from None
    out.seek(0)
    try:
        with tarfile.open(fileobj=out, mode="r:*") as tf:
            tf.next()
        out.seek(0)
        return out
    except tarfile.TarError:
        pass
    out.seek(0)
    data = out.read(MAX_REMOTE_DOCKERFILE + 1)
    out.close()
    if len(data) > MAX_REMOTE_DOCKERFILE:
        raise InvalidArgument(f"{url}: neither a tar nor a Dockerfile")
    plain = tempfile.TemporaryFile(dir=tmpdir)
    with tarfile.open(fileobj=plain, mode="w") as tf:
        info = tarfile.TarInfo(dockerfile.lstrip("/") or "Dockerfile")
        info.size, info.mode = len(data), 0o644
        tf.addfile(info, io.BytesIO(data))
    plain.seek(0)
    return plain


MAX_REMOTE_DOCKERFILE = 4 << 20


def prepare(tar: IO[bytes], tmpdir: str, dockerfile: str) -> tuple[TarContext, str]:
    """The context indexed from tar (which it now owns), .dockerignore applied; the
    Dockerfile's text."""
    head = tar.read(1)
    if not head:
        tar.close()
        raise BadContext(f"Cannot locate specified Dockerfile: {dockerfile}")
    tar.seek(0)
    try:
        ctx = TarContext(tar, tmpdir)
    except InvalidArgument as exc:
        tar.close()
        raise BadContext(str(exc)) from None
    try:
        text = read_dockerfile(ctx, dockerfile)
        patterns = ignore.parse(_read(ctx, ignore.IGNORE_FILE))
        if patterns:
            _remove_excluded(ctx, (), patterns)
    except BaseException:
        ctx.close()
        raise
    return ctx, text


def _read(ctx: TarContext, name: str) -> str:
    st = ctx.lstat((name,))
    if st is None or not stat.S_ISREG(st.st_mode):
        return ""
    if st.st_size > _MAX_IGNORE:
        raise InvalidArgument(f"{name} is larger than {_MAX_IGNORE >> 20} MiB")
    return ctx.read_bytes((name,), _MAX_IGNORE).decode(errors="replace")


def _remove_excluded(root: TarContext, where: Parts, patterns: ignore.Patterns) -> bool:
    """Excluded entries go; True if the folder is left empty and excluded itself."""
    for name in root.listdir(where):
        parts = (*where, name)
        st = root.lstat(parts)
        if st is None:
            continue
        path = "/".join(parts)
        excluded = patterns.excluded(path)
        if stat.S_ISDIR(st.st_mode) and (patterns.exceptions or not excluded):
            if _remove_excluded(root, parts, patterns) and excluded:
                root.remove(parts)
        elif excluded:
            root.remove(parts)
    return not root.listdir(where) if where else False
