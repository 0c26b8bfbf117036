"""A client of the distribution API v2 (OCI distribution spec): manifests and blobs.

Anonymous and bearer-token auth (Docker Hub's WWW-Authenticate flow), basic auth,
plain HTTP for localhost and insecure registries, pull mirrors (docker.io's
`registry-mirrors`, any host's `registry-mirrors-by-host`) with the host itself as the
last resort, and blob streams that resume with a Range request when the connection breaks.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from darse.errors import DarseError, InvalidArgument, NotFound, Unavailable
from darse.image import mediatypes
from darse.image.reference import DEFAULT_DOMAIN

DOCKER_HUB_HOST = "registry-1.docker.io"
USER_AGENT = "darse/0.1 (docker-compatible)"
RETRIES = 5


class RegistryError(DarseError):
    """The registry answered with an error."""


class Unauthorized(RegistryError):
    """401/403: credentials missing or refused."""


@dataclass
class Credentials:
    username: str = ""
    password: str = ""
    identity_token: str = ""

    @classmethod
    def from_x_registry_auth(cls, header: str | None) -> Credentials | None:
        """The X-Registry-Auth header of the Engine API (base64url JSON)."""
        if not header:
            return None
        raw = header + "=" * (-len(header) % 4)
        try:
            data = json.loads(base64.urlsafe_b64decode(raw))
        except ValueError:
            raise InvalidArgument("invalid X-Registry-Auth header") from None
        if not isinstance(data, dict):
            return None
        return cls(data.get("username", ""), data.get("password", ""),
                   data.get("identitytoken", ""))


@dataclass
class RegistryConfig:
    """The daemon.json keys that concern registries."""

    insecure_registries: list[str] = field(default_factory=list)
    registry_mirrors: list[str] = field(default_factory=list)
    # darse's own key, containerd's per-host mirrors: {"registry.k8s.io": ["http://..."]}.
    registry_mirrors_by_host: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Checked when darsed starts: a bad entry stops it with the entry named, rather
        # than a pull that silently skips the mirror.
        by_host = self.registry_mirrors_by_host
        if not isinstance(by_host, dict):
            raise InvalidArgument('daemon.json: "registry-mirrors-by-host" takes '
                                  '{"HOST": ["http(s)://MIRROR", ...]}')
        for host, urls in by_host.items():
            if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
                raise InvalidArgument(f'daemon.json: "registry-mirrors-by-host": {host!r} '
                                      f'takes a list of mirror URLs')
            for url in urls:
                _mirror_endpoint(url)
        for url in self.registry_mirrors:
            _mirror_endpoint(url)

    def mirrors(self, domain: str) -> list[str]:
        """The mirrors to try, in order, before domain itself (docker.io's from both keys)."""
        own = list(self.registry_mirrors) if domain == DEFAULT_DOMAIN else []
        return own + list(self.registry_mirrors_by_host.get(domain) or [])

    def is_insecure(self, host: str) -> bool:
        name = host.rsplit(":", 1)[0].strip("[]") if not host.startswith("[") or "]:" in host \
            else host.strip("[]")
        if name == "localhost":
            return True
        try:
            ip = ipaddress.ip_address(name)
        except ValueError:
            ip = None
        if ip is not None and ip.is_loopback:
            return True
        for entry in self.insecure_registries:
            if entry == host or entry == name:
                return True
            if ip is not None and "/" in entry:
                try:
                    if ip in ipaddress.ip_network(entry, strict=False):
                        return True
                except ValueError:
                    continue
        return False


def _mirror_endpoint(url: str) -> tuple[str, str]:
    """(scheme, host[:port]) of a mirror URL; the scheme is the one written (a mirror
    written http:// is spoken to in plain HTTP, as Docker does), none when left out."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    host, _, path = rest.rstrip("/").partition("/")
    if scheme not in ("", "http", "https") or not host or path:
        raise InvalidArgument(f"invalid mirror URL {url!r}: want http(s)://HOST[:PORT]")
    return scheme, host


def _parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    scheme, _, rest = header.partition(" ")
    params = dict(re.findall(r'(\w+)="([^"]*)"', rest))
    return scheme.lower(), params


def _error_message(resp: httpx.Response) -> str:
    try:
        errors = resp.json().get("errors") or []
        if errors:
            return "; ".join(f"{e.get('code', '')}: {e.get('message', '')}".strip(": ")
                             for e in errors)
    except (ValueError, AttributeError):
        pass
    return f"{resp.status_code} {resp.reason_phrase}"


class Registry:
    """One registry host (docker.io is registry-1.docker.io, or one of its mirrors)."""

    def __init__(self, domain: str, config: RegistryConfig | None = None,
                 credentials: Credentials | None = None, timeout: float = 60.0,
                 *, mirrors: bool = False) -> None:
        """mirrors: try the configured mirrors first. Pulls only: a push or a login goes
        to the host itself (Docker's rule), never to a read-only cache."""
        self.domain = domain
        self.config = config or RegistryConfig()
        self.credentials = credentials
        host = DOCKER_HUB_HOST if domain == DEFAULT_DOMAIN else domain
        # (scheme, host): the scheme a mirror was written with, "" for the host itself.
        self.endpoints = [_mirror_endpoint(m) for m in self.config.mirrors(domain)] \
            if mirrors else []
        self.endpoints.append(("", host))
        self.host = host
        self._base: str | None = None
        self._tokens: dict[str, str] = {}
        self.http = httpx.Client(timeout=httpx.Timeout(timeout, connect=10.0),
                                 headers={"User-Agent": USER_AGENT}, follow_redirects=True,
                                 limits=httpx.Limits(max_connections=16))

    def close(self) -> None:
        self.http.close()

    # --- transport -----------------------------------------------------------

    def _bases(self, scheme: str, host: str) -> list[str]:
        if scheme:
            return [f"{scheme}://{host}"]
        if self.config.is_insecure(host):
            return [f"https://{host}", f"http://{host}"]
        return [f"https://{host}"]

    @property
    def on_mirror(self) -> bool:
        """Whether the endpoint in use is a mirror with the host itself still behind it."""
        return len(self.endpoints) > 1

    def next_endpoint(self) -> None:
        """Give up the mirror in use (it failed): the next one, or the host itself."""
        if self.on_mirror:
            self.endpoints.pop(0)
            self._base = None
            self._tokens.clear()

    def base(self) -> str:
        """The scheme://host that answers /v2/ (HTTPS first; HTTP only if insecure)."""
        if self._base is not None:
            return self._base
        errors = []
        while True:
            scheme, host = self.endpoints[0]
            for base in self._bases(scheme, host):
                try:
                    resp = self.http.get(f"{base}/v2/")
                except httpx.HTTPError as exc:
                    errors.append(f"{base}: {exc}")
                    continue
                if resp.status_code in (200, 401):
                    self._base, self.host = base, host
                    return base
                errors.append(f"{base}: {resp.status_code}")
            if not self.on_mirror:
                raise Unavailable(f"Get \"https://{host}/v2/\": " + "; ".join(errors))
            self.endpoints.pop(0)

    def _auth_header(self, scope: str) -> dict[str, str]:
        token = self._tokens.get(scope)
        if token:
            return {"Authorization": f"Bearer {token}"}
        if token == "" and self.credentials and self.credentials.username:
            raw = f"{self.credentials.username}:{self.credentials.password}".encode()
            return {"Authorization": "Basic " + base64.b64encode(raw).decode()}
        return {}

    def _authenticate(self, challenge: str, scope: str) -> None:
        scheme, params = _parse_challenge(challenge)
        if scheme == "basic":
            if not (self.credentials and self.credentials.username):
                raise Unauthorized("unauthorized: authentication required")
            self._tokens[scope] = ""
            return
        if scheme != "bearer" or "realm" not in params:
            raise Unauthorized(f"unsupported authentication challenge: {challenge}")
        query = {"service": params.get("service", "")}
        if params.get("scope") or scope:
            query["scope"] = params.get("scope") or scope
        auth = None
        if self.credentials and self.credentials.username:
            auth = (self.credentials.username, self.credentials.password)
        resp = self.http.get(params["realm"], params=query, auth=auth)
        if resp.status_code != 200:
            raise Unauthorized(f"unauthorized: {_error_message(resp)}")
        body = resp.json()
        self._tokens[scope] = body.get("token") or body.get("access_token") or ""

    def request(self, method: str, path: str, scope: str, *, stream: bool = False,
                headers: dict[str, str] | None = None, **kwargs: Any) -> httpx.Response:
        """One API call, authenticating once on 401; the caller checks the status."""
        url = path if path.startswith("http") else self.base() + path
        for attempt in (1, 2):
            hdrs = {**(headers or {}), **self._auth_header(scope)}
            req = self.http.build_request(method, url, headers=hdrs, **kwargs)
            resp = self.http.send(req, stream=stream)
            if resp.status_code == 401 and attempt == 1:
                challenge = resp.headers.get("WWW-Authenticate", "")
                resp.close()
                self._authenticate(challenge, scope)
                continue
            return resp
        return resp

    # --- API -----------------------------------------------------------------

    def get_manifest(self, repo: str, reference: str) -> tuple[bytes, str, str]:
        """(raw bytes, media type, digest) of a manifest or an index. A mirror that fails
        to give it (down, missing the image, refusing) is left for the next endpoint,
        the host itself last; the blobs then come from whichever gave the manifest."""
        while True:
            try:
                return self._get_manifest(repo, reference)
            except (DarseError, httpx.HTTPError):
                if not self.on_mirror:
                    raise
                self.next_endpoint()

    def _get_manifest(self, repo: str, reference: str) -> tuple[bytes, str, str]:
        resp = self.request("GET", f"/v2/{repo}/manifests/{reference}", f"repository:{repo}:pull",
                            headers={"Accept": mediatypes.ACCEPT})
        if resp.status_code == 404:
            raise NotFound(f"manifest for {repo}:{reference} not found: manifest unknown")
        if resp.status_code in (401, 403):
            raise Unauthorized(f"pull access denied for {repo}, repository does not exist or "
                               f"may require 'docker login': {_error_message(resp)}")
        if resp.status_code != 200:
            raise RegistryError(f"fetching manifest {repo}:{reference}: {_error_message(resp)}")
        raw = resp.content
        from darse.image.content import sha256_digest

        digest = sha256_digest(raw)
        if reference.startswith("sha256:") and digest != reference:
            raise InvalidArgument(f"manifest digest mismatch: expected {reference}, got {digest}")
        media = resp.headers.get("Content-Type", "").split(";")[0]
        if media not in mediatypes.MANIFESTS + mediatypes.INDEXES:
            try:
                media = json.loads(raw).get("mediaType") or media
            except ValueError:
                pass
        return raw, media, digest

    def tags(self, repo: str) -> list[str]:
        """Every tag of a repository (following the spec's Link pagination)."""
        while True:
            try:
                return self._tags(repo)
            except (DarseError, httpx.HTTPError):
                if not self.on_mirror:
                    raise
                self.next_endpoint()

    def _tags(self, repo: str) -> list[str]:
        out: list[str] = []
        path = f"/v2/{repo}/tags/list"
        while path:
            resp = self.request("GET", path, f"repository:{repo}:pull")
            if resp.status_code == 404:
                raise NotFound(f"repository {repo} not found")
            if resp.status_code != 200:
                raise RegistryError(f"listing tags of {repo}: {_error_message(resp)}")
            out += resp.json().get("tags") or []
            link = resp.headers.get("Link", "")
            m = re.match(r"<([^>]+)>", link)
            path = m.group(1) if m else ""
        return out

    def blob_stream(self, repo: str, digest: str) -> ResumableBlob:
        return ResumableBlob(self, repo, digest)

    def get_blob(self, repo: str, digest: str) -> bytes:
        stream = self.blob_stream(repo, digest)
        try:
            return b"".join(iter(lambda: stream.read(1 << 20), b""))
        finally:
            stream.close()

    def has_blob(self, repo: str, digest: str) -> bool:
        resp = self.request("HEAD", f"/v2/{repo}/blobs/{digest}", f"repository:{repo}:pull,push")
        return resp.status_code == 200

    def mount_blob(self, repo: str, digest: str, from_repo: str) -> bool:
        """Cross-repository blob mount: no upload when the registry has it elsewhere."""
        resp = self.request("POST", f"/v2/{repo}/blobs/uploads/",
                            f"repository:{repo}:pull,push",
                            params={"mount": digest, "from": from_repo})
        if resp.status_code == 201:
            return True
        if resp.status_code == 202:
            location = resp.headers.get("Location", "")
            if location:
                self.request("DELETE", self._absolute(location), f"repository:{repo}:pull,push")
        return False

    def _absolute(self, location: str) -> str:
        return location if location.startswith("http") else self.base() + location

    def upload_blob(self, repo: str, digest: str, chunks: Iterator[bytes],
                    progress: Callable[[int], None] | None = None) -> None:
        """Chunked upload (POST, PATCH..., PUT ?digest=), the spec's streamed upload."""
        scope = f"repository:{repo}:pull,push"
        resp = self.request("POST", f"/v2/{repo}/blobs/uploads/", scope)
        if resp.status_code != 202:
            raise RegistryError(f"starting upload of {digest}: {_error_message(resp)}")
        location = self._absolute(resp.headers["Location"])
        offset = 0
        for chunk in chunks:
            resp = self.request("PATCH", location, scope, content=chunk, headers={
                "Content-Type": "application/octet-stream",
                "Content-Range": f"{offset}-{offset + len(chunk) - 1}"})
            if resp.status_code != 202:
                raise RegistryError(f"uploading {digest}: {_error_message(resp)}")
            location = self._absolute(resp.headers["Location"])
            offset += len(chunk)
            if progress:
                progress(len(chunk))
        # The Location carries the upload's state in its query: add to it, never replace it.
        final = str(httpx.URL(location).copy_merge_params({"digest": digest}))
        resp = self.request("PUT", final, scope, headers={"Content-Length": "0"})
        if resp.status_code != 201:
            raise RegistryError(f"completing upload of {digest}: {_error_message(resp)}")

    def put_manifest(self, repo: str, reference: str, raw: bytes, media_type: str) -> str:
        resp = self.request("PUT", f"/v2/{repo}/manifests/{reference}",
                            f"repository:{repo}:pull,push", content=raw,
                            headers={"Content-Type": media_type})
        if resp.status_code in (401, 403):
            raise Unauthorized(f"denied: requested access to the resource is denied: "
                               f"{_error_message(resp)}")
        if resp.status_code != 201:
            raise RegistryError(f"pushing manifest {repo}:{reference}: {_error_message(resp)}")
        return resp.headers.get("Docker-Content-Digest", "")

    def check_login(self) -> None:
        """Succeed if the credentials open /v2/ (what `docker login` checks)."""
        base = self.base()
        resp = self.http.get(f"{base}/v2/")
        if resp.status_code == 200:
            return
        challenge = resp.headers.get("WWW-Authenticate", "")
        self._authenticate(challenge, "")
        resp = self.request("GET", "/v2/", "")
        if resp.status_code != 200:
            raise Unauthorized(f"login attempt to {base}/v2/ failed with status: "
                               f"{resp.status_code} {resp.reason_phrase}")


class ResumableBlob:
    """A file-like blob download that picks up where it broke (HTTP Range)."""

    def __init__(self, registry: Registry, repo: str, digest: str) -> None:
        self.registry, self.repo, self.digest = registry, repo, digest
        self.offset = 0
        self.total: int | None = None
        self._resp: httpx.Response | None = None
        self._iter: Iterator[bytes] | None = None
        self._chunk = memoryview(b"")
        self.retries = 0

    def _open(self) -> None:
        headers = {"Range": f"bytes={self.offset}-"} if self.offset else {}
        resp = self.registry.request("GET", f"/v2/{self.repo}/blobs/{self.digest}",
                                     f"repository:{self.repo}:pull", stream=True,
                                     headers=headers)
        if resp.status_code == 404:
            resp.close()
            raise NotFound(f"blob {self.digest} not found in {self.repo}")
        if resp.status_code not in (200, 206):
            resp.read()
            raise RegistryError(f"fetching blob {self.digest}: {_error_message(resp)}")
        if self.offset and resp.status_code == 200:
            resp.close()  # no Range support: a resumed stream cannot be spliced
            raise RegistryError(f"fetching blob {self.digest}: the registry cannot resume")
        if self.total is None and resp.status_code == 200:
            length = resp.headers.get("Content-Length")
            self.total = int(length) if length else None
        self._resp = resp
        self._iter = resp.iter_raw(1 << 20)

    def read(self, n: int = -1) -> bytes:
        """Up to n bytes (fewer only at the end), served from the current chunk."""
        if n < 0:
            return b"".join(iter(lambda: self.read(1 << 20), b""))
        parts = []
        while n > 0:
            if not self._chunk:
                chunk = self._next_chunk()
                if not chunk:
                    break
                self._chunk = memoryview(chunk)
            part = self._chunk[:n]
            self._chunk = self._chunk[len(part):]
            parts.append(part)
            n -= len(part)
        return b"".join(parts)

    def _next_chunk(self) -> bytes:
        while True:
            if self._iter is None:
                self._open()
            try:
                chunk = next(self._iter)
            except StopIteration:
                return b""
            except (httpx.TransportError, httpx.DecodingError) as exc:
                self.close_response()
                self.retries += 1
                if self.retries > RETRIES:
                    raise Unavailable(f"fetching blob {self.digest}: {exc}") from None
                time.sleep(min(0.1 * 2 ** self.retries, 2))
                continue
            self.offset += len(chunk)
            return chunk

    def close_response(self) -> None:
        if self._resp is not None:
            self._resp.close()
        self._resp = self._iter = None

    def close(self) -> None:
        self.close_response()
