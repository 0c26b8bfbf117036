"""The build context darsed receives: a tar unpacked into a folder of its own (links and
`..` kept inside it, `.wh.` names plain files), its Dockerfile read, then what
.dockerignore excludes taken out, the Dockerfile and .dockerignore themselves too when
they are listed (Docker's classic builder does the same)."""

from __future__ import annotations

import os
import stat
from typing import IO

from darse.build import ignore
from darse.build.addtar import unpack as untar
from darse.build.dockerfile import BadContext, read_dockerfile
from darse.errors import InvalidArgument
from darse.fs.root import Parts, Root

_MAX_IGNORE = 1 << 20


def unpack(tar: IO[bytes], context: str, dockerfile: str) -> str:
    """The context from tar into context; the Dockerfile's text."""
    head = tar.read(1)
    if not head:
        raise BadContext(f"Cannot locate specified Dockerfile: {dockerfile}")
    tar.seek(0)
    with Root(context) as root:
        try:
            untar(tar, root, (), "unpacking the build context")
        except InvalidArgument as exc:
            raise BadContext(str(exc).replace("unpacking the build context failed: ", "")
                             or "unexpected EOF") from None
    text = read_dockerfile(context, dockerfile)
    with Root(context) as root:
        patterns = ignore.parse(_read(root, ignore.IGNORE_FILE))
        if patterns:
            _remove_excluded(root, (), patterns)
    return text


def _read(root: Root, name: str) -> str:
    st = root.lstat((name,))
    if st is None or not stat.S_ISREG(st.st_mode):
        return ""
    fd = root.open_file((name,))
    try:
        data = os.read(fd, _MAX_IGNORE + 1)
    finally:
        os.close(fd)
    if len(data) > _MAX_IGNORE:
        raise InvalidArgument(f"{name} is larger than {_MAX_IGNORE >> 20} MiB")
    return data.decode(errors="replace")


def _remove_excluded(root: Root, where: Parts, patterns: ignore.Patterns) -> bool:
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
