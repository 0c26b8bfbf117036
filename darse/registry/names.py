"""What a repository name, a tag and a digest may be (OCI distribution spec v1.1,
"Pulling manifests": the grammars of <name> and <reference>)."""

from __future__ import annotations

import hashlib
import re

from darse.registry.errors import RegistryError

_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
NAME = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
TAG = re.compile(r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}")
DIGEST = re.compile(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+")
# The algorithms the registry can verify, with the length of their hex digests.
ALGORITHMS = {"sha256": 64, "sha512": 128}
NAME_MAX = 255


def check_name(name: str) -> str:
    if len(name) > NAME_MAX or not NAME.fullmatch(name):
        raise RegistryError("NAME_INVALID", detail={"name": name})
    return name


def is_digest(reference: str) -> bool:
    return ":" in reference


def check_digest(digest: str) -> str:
    """A digest darse can verify: a known algorithm and a hex string of its length."""
    algorithm, _, hexd = digest.partition(":")
    if (not DIGEST.fullmatch(digest) or ALGORITHMS.get(algorithm) != len(hexd)
            or not re.fullmatch(r"[0-9a-f]+", hexd)):
        raise RegistryError("DIGEST_INVALID", "invalid digest", {"digest": digest})
    return digest


def check_tag(tag: str) -> str:
    if not TAG.fullmatch(tag):
        raise RegistryError("MANIFEST_INVALID", "invalid tag", {"tag": tag})
    return tag


def hasher(digest: str):  # noqa: ANN201 - a hashlib object
    return hashlib.new(digest.split(":", 1)[0])


def digest_of(data: bytes, algorithm: str = "sha256") -> str:
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"
