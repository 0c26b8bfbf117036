"""Real clients against darse's registry: skopeo copies images in and out."""

from __future__ import annotations

import json
from pathlib import Path

from tests.registry.conftest import DarseRegistry


def test_skopeo_push_and_pull(darse_registry: DarseRegistry, busybox_layout: Path,
                              tmp_path: Path) -> None:
    darse_registry.push_layout(busybox_layout, "library/busybox")
    out = tmp_path / "back"
    darse_registry.skopeo("copy", "--quiet", "--src-tls-verify=false",
                          f"docker://{darse_registry.host}/library/busybox:latest",
                          f"oci:{out}:latest")
    index = json.loads((out / "index.json").read_text())
    assert len(index["manifests"]) == 1
    inspect = json.loads(darse_registry.skopeo(
        "inspect", "--tls-verify=false",
        f"docker://{darse_registry.host}/library/busybox:latest").stdout)
    assert inspect["Architecture"] == "amd64" and len(inspect["Layers"]) == 1
    assert inspect["RepoTags"] == ["latest"]
