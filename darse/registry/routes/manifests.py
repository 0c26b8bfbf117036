"""/v2/<name>/manifests/<reference>: pull (GET, HEAD) by tag or digest, push (PUT: the
content checked, every blob and child it names present, its subject indexed for the
referrers API), delete (by digest: the manifest; by tag: the tag)."""

from __future__ import annotations

from aiohttp import web

from darse.registry import manifests
from darse.registry.errors import RegistryError
from darse.registry.names import check_digest, check_tag, digest_of, is_digest
from darse.registry.routes import empty, locked_shared, state


async def get(request: web.Request, name: str, reference: str) -> web.StreamResponse:
    if is_digest(reference):
        check_digest(reference)
    raw, media, digest = state(request).storage.get_manifest(name, reference)
    return web.Response(body=raw, headers={
        "Content-Type": media, "Docker-Content-Digest": digest, "ETag": f'"{digest}"'})


async def _read(request: web.Request) -> bytes:
    parts, size = [], 0
    while chunk := await request.content.readany():
        size += len(chunk)
        if size > manifests.MAX_SIZE:
            raise RegistryError("MANIFEST_INVALID", "manifest too big", status=413)
        parts.append(chunk)
    return b"".join(parts)


async def put(request: web.Request, name: str, reference: str) -> web.StreamResponse:
    algorithm = "sha256"
    if is_digest(reference):
        algorithm = check_digest(reference).split(":")[0]
    else:
        check_tag(reference)
    raw = await _read(request)
    manifest = manifests.parse(raw, request.headers.get("Content-Type", ""))
    digest = digest_of(raw, algorithm)
    if is_digest(reference) and digest != reference:
        raise RegistryError("DIGEST_INVALID", detail={"expected": reference, "got": digest})
    storage = state(request).storage
    fd = await locked_shared(storage)
    try:
        storage.put_manifest(name, reference, raw, digest, manifest)
    finally:
        storage.unlock(fd)
    headers = {"Location": f"/v2/{name}/manifests/{digest}", "Docker-Content-Digest": digest}
    if manifest.subject is not None:
        headers["OCI-Subject"] = manifest.subject.digest
    return empty(201, **headers)


async def delete(request: web.Request, name: str, reference: str) -> web.StreamResponse:
    if is_digest(reference):
        check_digest(reference)
    state(request).storage.delete_manifest(name, reference)
    return empty(202)
