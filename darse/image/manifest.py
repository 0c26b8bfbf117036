"""Manifests and indexes (Docker v2 schema 2, OCI): validation and platform selection."""

from __future__ import annotations

import json
import os
from typing import Any

from darse.errors import InvalidArgument, NotFound
from darse.image import mediatypes
from darse.image.reference import validate_digest

_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "armv6l": "arm",
         "i686": "386", "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64"}
_VARIANT = {"armv7l": "v7", "armv6l": "v6", "aarch64": "v8"}


def host_platform() -> dict[str, str]:
    machine = os.uname().machine
    out = {"os": "linux", "architecture": _ARCH.get(machine, machine)}
    if machine in _VARIANT:
        out["variant"] = _VARIANT[machine]
    return out


def parse_platform(text: str) -> dict[str, str]:
    """`linux/arm64/v8` as --platform takes it."""
    parts = text.lower().split("/")
    if len(parts) < 2 or len(parts) > 3 or not all(parts):
        raise InvalidArgument(f'"{text}": unknown operating system or architecture: '
                              "invalid argument")
    out = {"os": parts[0], "architecture": parts[1]}
    if len(parts) == 3:
        out["variant"] = parts[2]
    return out


def platform_string(p: dict[str, str]) -> str:
    return "/".join(x for x in (p.get("os"), p.get("architecture"), p.get("variant")) if x)


def load_json(raw: bytes, what: str) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise InvalidArgument(f"invalid {what}: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidArgument(f"invalid {what}: not a JSON object")
    return data


def _descriptor(d: Any, where: str) -> dict[str, Any]:
    if not isinstance(d, dict) or not isinstance(d.get("digest"), str):
        raise InvalidArgument(f"invalid manifest: {where}: a descriptor needs a digest")
    validate_digest(d["digest"])
    if not isinstance(d.get("size", 0), int) or d.get("size", 0) < 0:
        raise InvalidArgument(f"invalid manifest: {where}: invalid size")
    return d


def parse_manifest(raw: bytes, media_type: str = "") -> dict[str, Any]:
    """An image manifest: config and layer descriptors, checked."""
    m = load_json(raw, "manifest")
    media_type = m.get("mediaType") or media_type
    if m.get("schemaVersion") != 2:
        raise InvalidArgument("invalid manifest: only schemaVersion 2 is supported "
                              "(schema 1 images are deprecated)")
    if media_type in mediatypes.INDEXES or "manifests" in m:
        raise InvalidArgument("invalid manifest: expected an image manifest, got an index")
    _descriptor(m.get("config"), "config")
    layers = m.get("layers")
    if not isinstance(layers, list):
        raise InvalidArgument("invalid manifest: layers must be a list")
    for i, layer in enumerate(layers):
        _descriptor(layer, f"layers[{i}]")
        mt = layer.get("mediaType", mediatypes.DOCKER_LAYER)
        if mt not in mediatypes.LAYERS:
            raise InvalidArgument(f"invalid manifest: layers[{i}]: unsupported media type {mt}")
    return m


def is_index(raw: bytes, media_type: str) -> bool:
    if media_type in mediatypes.INDEXES:
        return True
    try:
        return "manifests" in json.loads(raw)
    except ValueError:
        return False


def select_platform(raw: bytes, want: dict[str, str] | None = None) -> dict[str, Any]:
    """The descriptor of the index that fits the platform (host's by default)."""
    index = load_json(raw, "manifest list")
    want = want or host_platform()
    entries = index.get("manifests")
    if not isinstance(entries, list):
        raise InvalidArgument("invalid manifest list: manifests must be a list")
    candidates = []
    for i, d in enumerate(entries):
        _descriptor(d, f"manifests[{i}]")
        p = d.get("platform") or {}
        if p.get("os") != want["os"] or p.get("architecture") != want["architecture"]:
            continue
        if want.get("variant") and p.get("variant") and p["variant"] != want["variant"]:
            continue
        candidates.append(d)
    if not candidates:
        raise NotFound(f"no matching manifest for {platform_string(want)} in the manifest "
                       "list entries")
    # An exact variant match first (arm64/v8 over arm64), else the first listed.
    exact = [d for d in candidates
             if (d.get("platform") or {}).get("variant") == want.get("variant")]
    return (exact or candidates)[0]
