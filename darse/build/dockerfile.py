"""The Dockerfile: found in the build context, its lines (continuations, comments, the
escape directive) made into instructions, with Docker's errors for what cannot be parsed.

The messages quote the Dockerfile's own lines, which is safe only because the file is the
client's: read_dockerfile() takes it from the context the client sent, never elsewhere."""

from __future__ import annotations

import errno
import json
import os
import re
import stat
from dataclasses import dataclass, field

from darse.errors import InvalidArgument
from darse.fs.root import Root, UnsafePath, clean

KNOWN = ("FROM", "RUN", "CMD", "LABEL", "MAINTAINER", "EXPOSE", "ENV", "ADD", "COPY",
         "ENTRYPOINT", "VOLUME", "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL",
         "HEALTHCHECK", "SHELL")


@dataclass
class Instruction:
    cmd: str
    rest: str
    line: int
    flags: dict[str, str] = field(default_factory=dict)

    @property
    def json(self) -> list[str] | None:
        """The exec form's list, or None for the shell form."""
        text = self.rest.strip()
        if not text.startswith("["):
            return None
        try:
            value = json.loads(text)
        except ValueError:
            return None
        return value if isinstance(value, list) and all(isinstance(v, str) for v in value) \
            else None

    @property
    def original(self) -> str:
        flags = " ".join(f"--{k}={v}" for k, v in self.flags.items())
        return f"{self.cmd} {flags + ' ' if flags else ''}{self.rest}".strip()


# Far above any real Dockerfile; the daemon reads the file whole.
MAX_SIZE = 4 << 20


def read_dockerfile(context: str, name: str) -> str:
    """The Dockerfile the client named, from its context. As Docker's classic builder,
    the name resolves inside the context as if it were '/' (dockerfile=/etc/x is the
    context's etc/x, a link to the host's /etc/shadow is the context's etc/shadow) and
    a `..` that climbs out is refused. Only a regular file of at most MAX_SIZE bytes is
    read, and no message quotes a file: the client sent the name, not the content."""
    rel = name.lstrip("/")
    try:
        clean(rel)
    except UnsafePath:
        raise InvalidArgument(f"forbidden path outside the build context: {rel} ()") from None
    with Root(context) as root:
        try:
            where = root.resolve(name)
            st = root.lstat(where)
        except OSError as exc:
            if exc.errno not in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
                raise
            st = None
        if st is None:
            raise InvalidArgument(f"Cannot locate specified Dockerfile: {name}")
        if stat.S_ISDIR(st.st_mode):
            raise InvalidArgument(f"unexpected error reading Dockerfile: read {name}: is a "
                                  "directory")
        if not stat.S_ISREG(st.st_mode):
            raise InvalidArgument(f"unexpected error reading Dockerfile: {name} is not a "
                                  "regular file")
        fd = root.open_file(where)
    try:
        chunks, left = [], MAX_SIZE + 1
        while left > 0 and (chunk := os.read(fd, min(left, 1 << 20))):
            chunks.append(chunk)
            left -= len(chunk)
    finally:
        os.close(fd)
    if left <= 0:
        raise InvalidArgument(f"the Dockerfile is larger than {MAX_SIZE >> 20} MiB")
    data = b"".join(chunks)
    return data.decode("utf-8", errors="replace").removeprefix("\ufeff")


_FLAG = re.compile(r"^--([a-z-]+)=(\S*)\s*")


def parse(text: str) -> list[Instruction]:
    escape = "\\"
    lines = text.splitlines()
    for line in lines[:5]:
        m = re.match(r"^#\s*escape\s*=\s*(\S)\s*$", line)
        if m:
            escape = m.group(1)
    out: list[Instruction] = []
    buf, start = "", 0
    for number, raw in enumerate(lines, 1):
        stripped = raw.strip()
        if not buf and (not stripped or stripped.startswith("#")):
            continue
        if buf and stripped.startswith("#"):
            continue  # a comment inside a continuation
        if not buf:
            start = number
        if stripped.endswith(escape):
            buf += stripped[:-1] + " "
            continue
        buf += stripped
        out.append(_instruction(buf, start))
        buf = ""
    if buf.strip():
        out.append(_instruction(buf, start))
    if not out:
        raise InvalidArgument("the Dockerfile cannot be empty")
    first = next((i for i in out if i.cmd != "ARG"), None)
    if first is None or first.cmd != "FROM":
        raise InvalidArgument("failed to process \"FROM\": no build stage in current context"
                              if first is None else
                              "Please provide a source image with `from` prior to commit")
    return out


def _instruction(text: str, line: int) -> Instruction:
    word, _, rest = text.strip().partition(" ")
    cmd = word.upper()
    if cmd not in KNOWN:
        raise InvalidArgument(f"dockerfile parse error line {line}: unknown instruction: "
                              f"{word.upper()}")
    rest = rest.strip()
    flags: dict[str, str] = {}
    while cmd in ("COPY", "ADD", "FROM", "RUN") and (m := _FLAG.match(rest)):
        flags[m.group(1)] = m.group(2)
        rest = rest[m.end():]
    if not rest and cmd not in ("CMD", "ENTRYPOINT"):
        raise InvalidArgument(f"dockerfile parse error on line {line}: {cmd} requires at "
                              "least one argument")
    return Instruction(cmd, rest, line, flags)


def substitute(text: str, env: dict[str, str]) -> str:
    """$VAR, ${VAR}, ${VAR:-default}, ${VAR:+alt} as the Dockerfile expands them."""
    def repl(m: re.Match) -> str:
        name = m.group(1) or m.group(2)
        op, arg = m.group(3), m.group(4)
        value = env.get(name)
        if op == ":-":
            return value if value else (arg or "")
        if op == ":+":
            return (arg or "") if value else ""
        return value or ""

    return re.sub(r"\$(?:([A-Za-z_][A-Za-z0-9_]*)|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:[-+])([^}]*))?\})",
                  repl, text)
