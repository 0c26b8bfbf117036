"""GET /distribution/{name}/json (docker-py's inspect_distribution, `docker manifest`'s
first question): the registry's descriptor of a reference and the platforms it holds,
read from its manifest (an index's entries, or a single manifest's config), nothing
pulled. Mirrors are asked as for a pull."""

from __future__ import annotations

from typing import Any

from darse.errors import NotFound
from darse.image import manifest as manifests
from darse.image.reference import Reference
from darse.image.registry import Credentials, Registry, RegistryConfig

# OCI's platform fields, in the order dockerd writes them (the empty ones left out).
_PLATFORM_KEYS = ("architecture", "os", "os.version", "os.features", "variant")


def _platform(p: dict[str, Any]) -> dict[str, Any]:
    return {k: p[k] for k in _PLATFORM_KEYS if p.get(k)}


def inspect(config: RegistryConfig, ref: Reference,
            credentials: Credentials | None = None) -> dict[str, Any]:
    """{"Descriptor": {mediaType, digest, size}, "Platforms": [...]}, as dockerd."""
    registry = Registry(ref.domain, config, credentials, mirrors=True)
    try:
        try:
            raw, media, digest = registry.get_manifest(ref.path, ref.digest or ref.tag)
        except NotFound:
            raise NotFound("manifest unknown: manifest unknown") from None  # dockerd's
        if manifests.is_index(raw, media):
            index = manifests.load_json(raw, "manifest list")
            platforms = [_platform(d.get("platform") or {})
                         for d in index.get("manifests") or [] if isinstance(d, dict)]
        else:
            m = manifests.parse_manifest(raw, media)
            image_config = manifests.load_json(
                registry.get_blob(ref.path, m["config"]["digest"]), "image config")
            platforms = [_platform(image_config)]
    finally:
        registry.close()
    return {"Descriptor": {"mediaType": media, "digest": digest, "size": len(raw)},
            "Platforms": platforms}
