"""Digest references as a user sees them through darse's CLI and the docker CLI: listed when
their repository has no tag, untagged with the repository's last tag."""

from __future__ import annotations

from tests.api.conftest import darsed  # noqa: F401 - the same darsed fixture
from tests.cli.test_cli import ok
from tests.daemon import Darsed


def test_digest_refs_listed_and_untagged(darsed: Darsed,  # noqa: F811
                                         busybox_in_registry: str) -> None:
    repo = busybox_in_registry.rsplit(":", 1)[0]
    ok(darsed, "pull", busybox_in_registry)
    digest = ok(darsed, "inspect", "--format", "{{index .RepoDigests 0}}",
                busybox_in_registry).strip()
    assert digest.startswith(f"{repo}@sha256:")
    ok(darsed, "tag", busybox_in_registry, "keep:1")
    # The repository's last tag goes: its digest reference goes with it, as dockerd does.
    out = ok(darsed, "rmi", busybox_in_registry).splitlines()
    assert out == [f"Untagged: {busybox_in_registry}", f"Untagged: {digest}"]
    assert ok(darsed, "inspect", "--format", "{{json .RepoDigests}}", "keep:1").strip() == "[]"
    # Pulled again by digest: a digest with no tag in its repository has its own row.
    ok(darsed, "pull", digest)
    rows = [r.split()[:3] for r in ok(darsed, "images", "--digests").splitlines()]
    assert [repo, "<none>", digest.split("@")[1]] in rows
    assert ["keep", "1", "<none>"] in rows
    rows = [r.split()[:2] for r in ok(darsed, "images").splitlines()]
    assert [repo, "<none>"] in rows and ["<none>", "<none>"] not in rows
    docker_rows = [r.split()[:3] for r in darsed.docker("images", "--digests").stdout.splitlines()]
    assert [repo, "<none>", digest.split("@")[1]] in docker_rows
    ok(darsed, "rmi", "keep:1")
    assert ok(darsed, "rmi", digest).splitlines()[0] == f"Untagged: {digest}"
