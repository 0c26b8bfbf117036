"""GET/HEAD/DELETE /v2/<name>/blobs/<digest>: blobs, served by sendfile(2) (aiohttp's
FileResponse) with Range reads."""

from __future__ import annotations

from aiohttp import web

from darse.registry.errors import RegistryError
from darse.registry.names import check_digest
from darse.registry.routes import empty, state


async def get(request: web.Request, name: str, digest: str) -> web.StreamResponse:
    storage = state(request).storage
    check_digest(digest)
    if not storage.has_blob(name, digest):
        raise RegistryError("BLOB_UNKNOWN", detail={"digest": digest})
    if request.method == "HEAD":
        # A pusher asks before it uploads: the blob is in use from now (gc's grace).
        storage.touch(digest)
    return web.FileResponse(storage.blob_path(digest), headers={
        "Docker-Content-Digest": digest, "Content-Type": "application/octet-stream",
        "Accept-Ranges": "bytes", "ETag": f'"{digest}"',
        "Cache-Control": "max-age=31536000"})


async def delete(request: web.Request, name: str, digest: str) -> web.StreamResponse:
    state(request).storage.unlink_blob(name, check_digest(digest))
    return empty(202, **{"Docker-Content-Digest": digest})
