"""/v2/<name>/blobs/uploads/: pushing blobs (OCI distribution spec v1.1, "Pushing blobs"):
monolithic (POST ?digest=, or POST then PUT), chunked (PATCH with Content-Range, in order),
the upload's status (GET), cancel (DELETE), and cross-repository mount (?mount=&from=)."""

from __future__ import annotations

import asyncio
import re

from aiohttp import web

from darse.registry.errors import RegistryError
from darse.registry.names import check_digest, check_name
from darse.registry.routes import empty, state
from darse.registry.sessions import Session, Sessions


def _location(name: str, uuid: str) -> str:
    return f"/v2/{name}/blobs/uploads/{uuid}"


def _progress(name: str, session: Session, status: int = 202) -> web.Response:
    size = session.size()
    # docker-registry's form: the last byte received, "0-0" when none is.
    return empty(status, **{"Location": _location(name, session.uuid),
                            "Range": f"0-{max(size - 1, 0)}",
                            "Docker-Upload-UUID": session.uuid})


def _created(name: str, digest: str) -> web.Response:
    return empty(201, **{"Location": f"/v2/{name}/blobs/{digest}",
                         "Docker-Content-Digest": digest})


def _length(request: web.Request) -> int | None:
    value = request.headers.get("Content-Length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        raise RegistryError("SIZE_INVALID", detail={"Content-Length": value}) from None


def _content_range(request: web.Request) -> int | None:
    """The first byte a chunk's Content-Range says it holds (`start-end`, inclusive)."""
    value = request.headers.get("Content-Range")
    if value is None:
        return None
    m = re.fullmatch(r"(?:bytes )?(\d+)-(\d+)(?:/\d+|/\*)?", value.strip())
    if not m or int(m.group(2)) < int(m.group(1)):
        raise RegistryError("BLOB_UPLOAD_INVALID", "invalid Content-Range",
                            {"Content-Range": value})
    start, end = int(m.group(1)), int(m.group(2))
    length = _length(request)
    if length is not None and length != end - start + 1:
        raise RegistryError("SIZE_INVALID", "Content-Range and Content-Length disagree",
                            {"Content-Range": value, "Content-Length": length})
    return start


async def _finish(sessions: Sessions, session: Session, digest: str) -> None:
    """Check and publish an upload off the event loop (it may hash and fsync 100s of MiB)."""
    await asyncio.get_running_loop().run_in_executor(None, sessions.finish, session, digest)


async def start(request: web.Request, name: str) -> web.StreamResponse:
    st = state(request)
    query = request.query
    if "mount" in query:
        digest = check_digest(query["mount"])
        source = query.get("from")
        identity = request["identity"]
        if source:
            check_name(source)
            if not identity.can("repository", source, "pull") and identity.bearer:
                # A mount needs pull on its source: the challenge (server.py) names both.
                request["insufficient"] = True
                raise RegistryError("UNAUTHORIZED", detail=[{
                    "Type": "repository", "Name": source, "Action": "pull"}])
            if identity.can("repository", source, "pull") and \
                    st.storage.has_blob(source, digest):
                st.storage.link_blob(name, digest)
                return _created(name, digest)
        elif st.auth.anonymous and st.storage.exists(digest):
            # Spec v1.1: without `from`, a registry may find the blob itself; only where
            # every repository is open to everyone, so no repository leaks through it.
            st.storage.link_blob(name, digest)
            return _created(name, digest)
    session = st.sessions.start(name)
    if "digest" in query:
        digest = check_digest(query["digest"])
        async with session.lock:
            try:
                await st.sessions.append(session, request.content, None, _length(request))
                await _finish(st.sessions, session, digest)
            except BaseException:
                st.sessions.cancel(session)
                raise
        st.storage.link_blob(name, digest)
        return _created(name, digest)
    return _progress(name, session)


async def status(request: web.Request, name: str, uuid: str) -> web.StreamResponse:
    return _progress(name, state(request).sessions.get(name, uuid), 204)


async def patch(request: web.Request, name: str, uuid: str) -> web.StreamResponse:
    sessions = state(request).sessions
    session = sessions.get(name, uuid)
    async with session.lock:
        await sessions.append(session, request.content, _content_range(request),
                              _length(request))
    return _progress(name, session)


async def finish(request: web.Request, name: str, uuid: str) -> web.StreamResponse:
    st = state(request)
    session = st.sessions.get(name, uuid)
    if "digest" not in request.query:
        raise RegistryError("DIGEST_INVALID", "digest parameter missing")
    digest = check_digest(request.query["digest"])
    async with session.lock:
        if (_length(request) or 0) > 0 or request.headers.get("Transfer-Encoding"):
            await st.sessions.append(session, request.content, _content_range(request),
                                     _length(request))
        await _finish(st.sessions, session, digest)
    st.storage.link_blob(name, digest)
    return _created(name, digest)


async def cancel(request: web.Request, name: str, uuid: str) -> web.StreamResponse:
    sessions = state(request).sessions
    session = sessions.get(name, uuid)
    async with session.lock:
        sessions.cancel(session)
    return empty(204)
