"""GET /distribution/{name}/json through docker-py's inspect_distribution against a
private darsed and darse's registry: the descriptor of the manifest and its platforms
(a single manifest's from its config, an index's from its entries), nothing pulled;
errors in dockerd 20.10's words (checked on a private one: 404 "manifest unknown:
manifest unknown", 400 for a bad reference)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import docker as dockerpy
import pytest

from tests.api.conftest import darsed  # noqa: F401 - the same darsed fixture
from tests.daemon import Darsed
from tests.ocilayout import Layout, tar_of_dir
from tests.registry.conftest import DarseRegistry


def test_inspect_distribution(darsed: Darsed, darse_registry: DarseRegistry,  # noqa: F811
                              busybox_rootfs: str, tmp_path: Path) -> None:
    layout = Layout(tmp_path / "layout")
    layer = tar_of_dir(busybox_rootfs)
    darse_registry.push_layout(_single(layout, layer), "dist/one")
    multi = Layout(tmp_path / "multi")
    descs = [multi.image([layer], tag=None, arch=arch) for arch in ("amd64", "arm64")]
    multi.multi_platform("latest", descs)
    darse_registry.push_layout(multi.path, "dist/multi", "latest", "--all")
    api = dockerpy.APIClient(base_url=darsed.host, version="1.41")
    try:
        one = api.inspect_distribution(f"{darse_registry.host}/dist/one:latest")
        raw = darse_registry.http.get("/v2/dist/one/manifests/latest", headers={
            "Accept": "application/vnd.oci.image.manifest.v1+json"}).content
        assert one == {"Descriptor": {
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": "sha256:" + hashlib.sha256(raw).hexdigest(), "size": len(raw)},
            "Platforms": [{"architecture": "amd64", "os": "linux"}]}
        both = api.inspect_distribution(f"{darse_registry.host}/dist/multi")
        assert both["Descriptor"]["mediaType"] == "application/vnd.oci.image.index.v1+json"
        assert both["Platforms"] == [{"architecture": "amd64", "os": "linux"},
                                     {"architecture": "arm64", "os": "linux"}]
        by_digest = api.inspect_distribution(
            f"{darse_registry.host}/dist/multi@{both['Descriptor']['digest']}")
        assert by_digest == both
        with pytest.raises(dockerpy.errors.NotFound) as missing:
            api.inspect_distribution(f"{darse_registry.host}/dist/one:nosuch")
        assert missing.value.explanation == "manifest unknown: manifest unknown"
        with pytest.raises(dockerpy.errors.APIError) as bad:
            api.inspect_distribution("BAD")
        assert bad.value.status_code == 400
        assert bad.value.explanation.startswith("invalid reference format: repository name")
        # nothing was pulled
        assert not [t for i in api.images() for t in i["RepoTags"] or [] if "dist/" in t]
    finally:
        api.close()


def _single(layout: Layout, layer: bytes) -> Path:
    layout.image([layer])
    return layout.path
