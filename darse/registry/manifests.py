"""What a pushed manifest or index is and what it references (OCI image spec v1.1 and
Docker's schema 2): the registry checks that its blobs and children exist, indexes the
subject for the referrers API, and stores the media type it was pushed with."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from darse.registry.errors import RegistryError
from darse.registry.names import check_digest

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
INDEXES = (OCI_INDEX, DOCKER_LIST)
SCHEMA1 = ("application/vnd.docker.distribution.manifest.v1+json",
           "application/vnd.docker.distribution.manifest.v1+prettyjws")
# Layers a registry does not have to hold (their urls say where they live).
FOREIGN = ("application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
           "application/vnd.oci.image.layer.nondistributable.v1.tar",
           "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
           "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd")
MAX_SIZE = 4 << 20  # the spec's SHOULD accept up to 4 MiB


@dataclass
class Descriptor:
    media_type: str
    digest: str
    size: int
    foreign: bool = False


@dataclass
class Manifest:
    media_type: str
    is_index: bool
    blobs: list[Descriptor] = field(default_factory=list)     # config and layers
    children: list[Descriptor] = field(default_factory=list)  # an index's manifests
    subject: Descriptor | None = None
    artifact_type: str = ""
    annotations: dict = field(default_factory=dict)


def _invalid(why: str) -> RegistryError:
    return RegistryError("MANIFEST_INVALID", detail=why)


def _descriptor(raw: object, where: str) -> Descriptor:
    if not isinstance(raw, dict):
        raise _invalid(f"{where}: a descriptor must be an object")
    digest, size, media = raw.get("digest"), raw.get("size"), raw.get("mediaType", "")
    if not isinstance(digest, str) or not isinstance(size, int) or size < 0 \
            or not isinstance(media, str):
        raise _invalid(f"{where}: a descriptor needs a digest, a size and a mediaType")
    try:
        check_digest(digest)
    except RegistryError:
        raise _invalid(f"{where}: invalid digest {digest}") from None
    return Descriptor(media, digest, size, media in FOREIGN or bool(raw.get("urls")))


def parse(raw: bytes, content_type: str) -> Manifest:
    """Parse and check a pushed manifest; MANIFEST_INVALID says why it is refused."""
    if len(raw) > MAX_SIZE:
        raise RegistryError("MANIFEST_INVALID", "manifest too big", status=413)
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise _invalid("not JSON") from None
    if not isinstance(doc, dict):
        raise _invalid("not a JSON object")
    content_type = content_type.split(";")[0].strip()
    body_type = doc.get("mediaType", "")
    if content_type in SCHEMA1 or body_type in SCHEMA1 or doc.get("schemaVersion") == 1:
        raise _invalid("schema 1 manifests are not supported")
    if doc.get("schemaVersion") != 2:
        raise _invalid("schemaVersion must be 2")
    if body_type and not isinstance(body_type, str):
        raise _invalid("mediaType must be a string")
    if body_type and content_type and content_type not in ("application/octet-stream",
                                                           "application/json") \
            and body_type != content_type:
        raise _invalid(f"mediaType {body_type} does not match Content-Type {content_type}")
    is_index = "manifests" in doc or body_type in INDEXES or content_type in INDEXES
    media = body_type or (content_type if content_type not in (
        "", "application/octet-stream", "application/json") else
        OCI_INDEX if is_index else OCI_MANIFEST)
    out = Manifest(media, is_index)
    if is_index:
        children = doc.get("manifests")
        if not isinstance(children, list):
            raise _invalid("an index needs a manifests list")
        out.children = [_descriptor(d, f"manifests[{i}]") for i, d in enumerate(children)]
    else:
        if "config" not in doc:
            raise _invalid("a manifest needs a config")
        layers = doc.get("layers", [])
        if not isinstance(layers, list):
            raise _invalid("layers must be a list")
        out.blobs = [_descriptor(doc["config"], "config")] + [
            _descriptor(d, f"layers[{i}]") for i, d in enumerate(layers)]
    if doc.get("subject") is not None:
        out.subject = _descriptor(doc["subject"], "subject")
    artifact = doc.get("artifactType", "")
    # OCI image spec v1.1: an image manifest without artifactType is of its config's type.
    out.artifact_type = artifact if isinstance(artifact, str) and artifact else (
        "" if is_index else out.blobs[0].media_type)
    annotations = doc.get("annotations")
    out.annotations = annotations if isinstance(annotations, dict) else {}
    return out
