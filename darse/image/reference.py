"""Image references as Docker parses them: `nginx` is docker.io/library/nginx:latest.

Grammar of distribution's reference package: [domain[:port]/]path[:tag][@digest], a
domain being a first component with a '.', a ':' or exactly 'localhost'.
"""

from __future__ import annotations

import re

from darse.errors import InvalidArgument

DEFAULT_DOMAIN = "docker.io"
LEGACY_DOMAIN = "index.docker.io"
OFFICIAL_PREFIX = "library/"

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_PATH_RE = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_DOMAIN_RE = re.compile(rf"^{_DOMAIN}$")
_TAG_RE = re.compile(rf"^{_TAG}$")
_DIGEST_RE = re.compile(rf"^{_DIGEST}$")
_ID_RE = re.compile(r"^[a-f0-9]{64}$")


class Reference:
    """A normalized reference: domain, path, and a tag and/or a digest."""

    def __init__(self, domain: str, path: str, tag: str | None = None,
                 digest: str | None = None) -> None:
        self.domain, self.path, self.tag, self.digest = domain, path, tag, digest

    @property
    def repository(self) -> str:
        """Full name: docker.io/library/nginx."""
        return f"{self.domain}/{self.path}"

    @property
    def familiar_repository(self) -> str:
        """What docker shows: nginx, user/app, localhost:5000/app."""
        if self.domain == DEFAULT_DOMAIN:
            return self.path.removeprefix(OFFICIAL_PREFIX)
        return self.repository

    def familiar(self) -> str:
        out = self.familiar_repository
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out

    def __str__(self) -> str:
        out = self.repository
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out

    def __repr__(self) -> str:
        return f"Reference({str(self)!r})"

    def with_tag(self, tag: str) -> Reference:
        return Reference(self.domain, self.path, tag, None)


def _split_domain(name: str) -> tuple[str, str]:
    first, sep, rest = name.partition("/")
    if not sep or ("." not in first and ":" not in first and first != "localhost"
                   and first.lower() == first):
        return DEFAULT_DOMAIN, name
    return first, rest


def parse(text: str, default_tag: str | None = "latest") -> Reference:
    """Parse and normalize, raising Docker's "invalid reference format" errors."""
    if not text or len(text) > 255 + 128:
        raise InvalidArgument("invalid reference format")
    name, digest = text, None
    if "@" in name:
        name, digest = name.split("@", 1)
        if not _DIGEST_RE.match(digest):
            raise InvalidArgument("invalid reference format")
    tag = None
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        name, tag = name[:colon], name[colon + 1:]
        if not _TAG_RE.match(tag):
            raise InvalidArgument("invalid reference format")
    domain, path = _split_domain(name)
    if domain == LEGACY_DOMAIN:
        domain = DEFAULT_DOMAIN
    if not _DOMAIN_RE.match(domain):
        raise InvalidArgument("invalid reference format")
    if path.lower() != path:  # dockerd 20.10's words
        raise InvalidArgument("invalid reference format: repository name must be lowercase")
    if not _PATH_RE.match(path):
        raise InvalidArgument("invalid reference format")
    if domain == DEFAULT_DOMAIN and "/" not in path:
        path = OFFICIAL_PREFIX + path
    if len(domain) + 1 + len(path) > 255:
        raise InvalidArgument("invalid reference format: repository name must not be more "
                              "than 255 characters")
    if tag is None and digest is None:
        tag = default_tag
    return Reference(domain, path, tag, digest)


def is_image_id(text: str) -> bool:
    """A full image id, with or without sha256: (Docker's ambiguity rule)."""
    return bool(_ID_RE.match(text.removeprefix("sha256:")))


def validate_digest(digest: str) -> str:
    """Only sha256 digests are stored; the hex must be full and lowercase."""
    algo, _, hexpart = digest.partition(":")
    if algo != "sha256" or not _ID_RE.match(hexpart):
        raise InvalidArgument(f"invalid digest {digest!r}")
    return digest
