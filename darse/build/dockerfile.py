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
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

from darse.errors import DarseError, InvalidArgument
from darse.fs.root import Root, UnsafePath, clean

KNOWN = ("FROM", "RUN", "CMD", "LABEL", "MAINTAINER", "EXPOSE", "ENV", "ADD", "COPY",
         "ENTRYPOINT", "VOLUME", "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL",
         "HEALTHCHECK", "SHELL")


class BadContext(DarseError):
    """The context or its Dockerfile cannot be read: dockerd answers 500 before any
    streaming."""


# The flags each instruction takes; any other is refused when the file is parsed.
FLAGS = {"ADD": ("chown", "chmod"), "COPY": ("chown", "chmod", "from"), "FROM": ("platform",),
         "RUN": ("mount", "network", "security"),
         "HEALTHCHECK": ("interval", "timeout", "start-period", "retries")}


@dataclass
class Heredoc:
    name: str
    content: str
    quoted: bool  # <<"EOF": no expansion in it
    at: int  # where its marker starts in the instruction's rest


@dataclass
class Instruction:
    cmd: str
    rest: str
    line: int
    flags: dict[str, str] = field(default_factory=dict)
    text: str = ""  # the instruction as written (continuations joined)
    escape: str = "\\"
    heredocs: list[Heredoc] = field(default_factory=list)

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
        if self.text:
            return self.text
        flags = " ".join(f"--{k}={v}" for k, v in self.flags.items())
        return f"{self.cmd} {flags + ' ' if flags else ''}{self.rest}".strip()

    def error(self, message: str) -> InvalidArgument:
        return InvalidArgument(f"dockerfile parse error line {self.line}: {message}")


# Far above any real Dockerfile; the daemon reads the file whole.
MAX_SIZE = 4 << 20


def read_dockerfile(context: str | Any, name: str) -> str:
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
    with Root(context) if isinstance(context, str) else nullcontext(context) as root:
        try:
            where = root.resolve(name)
            st = root.lstat(where)
        except OSError as exc:
            if exc.errno not in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
                raise
            st = None
        if st is None:
            raise BadContext(f"Cannot locate specified Dockerfile: {name}")
        if stat.S_ISDIR(st.st_mode):
            raise BadContext(f"unexpected error reading Dockerfile: read {name}: is a "
                             "directory")
        if not stat.S_ISREG(st.st_mode):
            raise BadContext(f"unexpected error reading Dockerfile: {name} is not a "
                             "regular file")
        if not isinstance(context, str):  # the context's index: read from its tar
            return _text(root.read_bytes(where, MAX_SIZE + 1))
        fd = root.open_file(where)
    try:
        chunks, left = [], MAX_SIZE + 1
        while left > 0 and (chunk := os.read(fd, min(left, 1 << 20))):
            chunks.append(chunk)
            left -= len(chunk)
    finally:
        os.close(fd)
    return _text(b"".join(chunks))


def _text(data: bytes) -> str:
    if len(data) > MAX_SIZE:
        raise InvalidArgument(f"the Dockerfile is larger than {MAX_SIZE >> 20} MiB")
    return data.decode("utf-8", errors="replace").removeprefix("\ufeff")


_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_FLAG = re.compile(r"^--([a-zA-Z][a-zA-Z0-9-]*)(?:=(\S*))?(?:\s+|$)")


def directives(text: str) -> dict[str, str]:
    """The parser directives (escape, syntax) of the file's first lines: they end at
    the first line that is not one."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        m = _DIRECTIVE.match(line.strip())
        if not m:
            break
        key = m.group(1).lower()
        if key in out:
            raise InvalidArgument(f"only one {key} parser directive can be used")
        out[key] = m.group(2)
    return out


def parse(text: str) -> list[Instruction]:
    """The instructions, with Docker's line rules: comments dropped even inside a
    continuation, empty lines inside one skipped, the escape directive honoured."""
    found = directives(text)
    escape = found.get("escape", "\\")
    if escape not in ("\\", "`"):
        raise InvalidArgument(f"invalid ESCAPE '{escape}'. Must be ` or \\")
    out: list[Instruction] = []
    buf, start = "", 0
    lines = text.splitlines()
    number = 0
    while number < len(lines):
        raw = lines[number]
        number += 1
        stripped = raw.strip()
        if stripped.startswith("#") or (buf and not stripped):
            continue  # a comment (or a directive), or an empty line inside a continuation
        if not buf and not stripped:
            continue
        if not buf:
            start = number
        body = raw.lstrip() if not buf else raw
        end = body.rstrip()
        if end.endswith(escape):
            buf += end[:-1]
            continue
        buf += body.rstrip()
        ins = _instruction(buf, start, escape)
        if ins.cmd in ("RUN", "COPY", "ADD"):
            number = _heredocs(ins, lines, number)
        out.append(ins)
        buf = ""
    if buf.strip():
        out.append(_instruction(buf, start, escape))
    if not out:
        raise InvalidArgument("the Dockerfile (Dockerfile) cannot be empty")
    return out


_HEREDOC = re.compile(r"(?:^|\s)<<(-?)([\"']?)([A-Za-z_][A-Za-z0-9_]*)\2(?=\s|$)")


def _heredocs(ins: Instruction, lines: list[str], number: int) -> int:
    """BuildKit's here-documents (`RUN <<EOF`, `COPY <<EOF /file`): the lines after the
    instruction up to each terminator; where the next line starts."""
    for m in _HEREDOC.finditer(ins.rest):
        strip_tabs, word = m.group(1) == "-", m.group(3)
        body: list[str] = []
        while True:
            if number >= len(lines):
                raise ins.error(f"unterminated heredoc {word}")
            line = lines[number]
            number += 1
            if (line.lstrip("\t") if strip_tabs else line) == word:
                break
            body.append(line.lstrip("\t") if strip_tabs else line)
        ins.heredocs.append(Heredoc(word, "".join(f"{b}\n" for b in body),
                                    m.group(2) != "", m.start(0) + (m.group(0)[0] != "<")))
    return number


def _instruction(text: str, line: int, escape: str) -> Instruction:
    text = text.strip()
    word, _, rest = re.sub(r"\s", " ", text, count=1).partition(" ")
    cmd = word.upper()
    if cmd not in KNOWN:
        raise InvalidArgument(f"dockerfile parse error line {line}: unknown instruction: "
                              f"{word.upper()}")
    rest = rest.strip()
    flags: dict[str, str] = {}
    if cmd not in ("CMD", "ENTRYPOINT", "ONBUILD", "ENV", "LABEL"):
        while m := _FLAG.match(rest):
            name = m.group(1)
            if name not in FLAGS.get(cmd, ()):
                raise InvalidArgument(f"dockerfile parse error line {line}: Unknown flag: "
                                      f"{name}")
            if name == "mount" and name in flags:  # RUN may have several
                flags[name] += "\n" + (m.group(2) or "")
                rest = rest[m.end():]
                continue
            if name in flags:
                raise InvalidArgument(f"dockerfile parse error line {line}: Duplicate flag "
                                      f"specified: {name}")
            flags[name] = m.group(2) or ""
            rest = rest[m.end():]
    ins = Instruction(cmd, rest.strip(), line, flags, text, escape)
    if not ins.rest and cmd not in ("CMD", "ENTRYPOINT", "RUN"):
        if cmd == "FROM":
            raise ins.error("FROM requires either one or three arguments")
        raise ins.error(f"{cmd} requires at least one argument")
    return ins
