"""References as docker parses them."""

from __future__ import annotations

import pytest

from darse.errors import InvalidArgument
from darse.image.reference import parse

CASES = [
    ("nginx", "docker.io/library/nginx:latest", "nginx:latest"),
    ("nginx:1.25", "docker.io/library/nginx:1.25", "nginx:1.25"),
    ("user/app", "docker.io/user/app:latest", "user/app:latest"),
    ("docker.io/library/debian:12", "docker.io/library/debian:12", "debian:12"),
    ("index.docker.io/library/debian", "docker.io/library/debian:latest", "debian:latest"),
    ("localhost/app", "localhost/app:latest", "localhost/app:latest"),
    ("localhost:5000/a/b:v1", "localhost:5000/a/b:v1", "localhost:5000/a/b:v1"),
    ("myregistry.example.com:5000/app:v1", "myregistry.example.com:5000/app:v1",
     "myregistry.example.com:5000/app:v1"),
    ("127.0.0.1:5000/busybox", "127.0.0.1:5000/busybox:latest", "127.0.0.1:5000/busybox:latest"),
    ("busybox@sha256:" + "a" * 64, "docker.io/library/busybox@sha256:" + "a" * 64,
     "busybox@sha256:" + "a" * 64),
]


@pytest.mark.parametrize(("text", "full", "familiar"), CASES)
def test_normalization(text: str, full: str, familiar: str) -> None:
    ref = parse(text)
    assert str(ref) == full and ref.familiar() == familiar


@pytest.mark.parametrize(("text", "message"), [
    ("Nginx", "invalid reference format: repository name must be lowercase"),
    ("nginx:", "invalid reference format"),
    ("nginx:bad tag", "invalid reference format"),
    ("-nginx", "invalid reference format"),
    ("nginx@sha256:abc", "invalid reference format"),
    ("a//b", "invalid reference format"),
    ("", "invalid reference format"),
])
def test_invalid(text: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse(text)
