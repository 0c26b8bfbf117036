""".dockerignore: Docker's classic rules. One pattern a line ('#' lines are comments),
cleaned and made relative; `*` and `?` never cross a '/', `**` crosses any number of
folders; a pattern that matches a folder excludes what is in it; the last pattern that
matches a path decides, a `!` one bringing the path back.

The CLI leaves excluded paths out of the context it sends; darsed applies the same rules
to what it received (clients other than darse's may send everything)."""

from __future__ import annotations

import os
import posixpath
import re
import stat
from dataclasses import dataclass

from darse.errors import InvalidArgument

IGNORE_FILE = ".dockerignore"


def glob_regex(pattern: str, double_star: bool = True) -> re.Pattern[str]:
    """A path pattern as a regular expression (Go's filepath.Match, and `**`)."""
    out = ["^"]
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        i += 1
        if ch == "*":
            if double_star and pattern[i:i + 1] == "*":
                i += 1
                if pattern[i:i + 1] == "/":
                    i += 1
                out.append(".*" if i >= len(pattern) else "(.*/)?")
            else:
                out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            end = pattern.find("]", i + 1 if pattern[i:i + 1] in ("^", "!") else i)
            if end < 0:
                raise InvalidArgument(f"syntax error in pattern {pattern}")
            body = pattern[i:end]
            if body.startswith("!"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = end + 1
        elif ch == "\\" and i < len(pattern):
            out.append(re.escape(pattern[i]))
            i += 1
        else:
            out.append(re.escape(ch))
    out.append("$")
    return re.compile("".join(out), re.DOTALL)


def has_magic(pattern: str) -> bool:
    return any(c in pattern for c in "*?[\\")


@dataclass
class _Pattern:
    exclusion: bool
    text: str
    regex: re.Pattern[str]
    depth: int


class Patterns:
    def __init__(self, lines: list[str]) -> None:
        self.patterns: list[_Pattern] = []
        for line in lines:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            exclusion = line.startswith("!")
            if exclusion:
                line = line[1:].strip()
                if not line:
                    raise InvalidArgument("illegal exclusion pattern: \"!\"")
            text = posixpath.normpath(line)
            if len(text) > 1 and text.startswith("/"):
                text = text.lstrip("/")
            if text == ".":
                continue  # the context itself: dockerd ignores such a line
            self.patterns.append(_Pattern(exclusion, text, glob_regex(text),
                                          len(text.split("/"))))

    @property
    def exceptions(self) -> bool:
        return any(p.exclusion for p in self.patterns)

    def excluded(self, path: str) -> bool:
        """Whether the context path (relative, '/'-separated) is left out."""
        path = posixpath.normpath(path)
        parent = posixpath.dirname(path)
        parent_dirs = parent.split("/") if parent else []
        matched = False
        for p in self.patterns:
            match = bool(p.regex.match(path))
            if not match and parent and p.depth <= len(parent_dirs):
                match = bool(p.regex.match("/".join(parent_dirs[:p.depth])))
            if match:
                matched = not p.exclusion
        return matched

    def __bool__(self) -> bool:
        return bool(self.patterns)


def parse(text: str) -> Patterns:
    return Patterns(text.splitlines())


def walk(top: str, patterns: Patterns, keep: tuple[str, ...] = ()) -> list[tuple[str, bool]]:
    """The context's entries that are sent (relative path, is a folder), parents
    first; keep are always sent (the Dockerfile and .dockerignore: the daemon needs
    them, as the docker CLI does). An excluded folder is left out whole unless an
    exception might bring something in it back."""
    out: list[tuple[str, bool]] = []
    todo = [""]
    while todo:
        rel = todo.pop()
        for name in sorted(os.listdir(os.path.join(top, rel)), reverse=True):
            path = f"{rel}/{name}" if rel else name
            st = os.lstat(os.path.join(top, path))
            is_dir = stat.S_ISDIR(st.st_mode)
            if patterns.excluded(path) and path not in keep:
                if is_dir and (patterns.exceptions or any(k.startswith(path + "/")
                                                          for k in keep)):
                    todo.append(path)  # something inside may come back
                continue
            out.append((path, is_dir))
            if is_dir:
                todo.append(path)
    out.sort()
    return out
