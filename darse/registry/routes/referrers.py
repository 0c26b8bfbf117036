"""GET /v2/<name>/referrers/<digest>[?artifactType=]: the manifests whose subject is
digest, as an OCI image index (OCI distribution spec v1.1, "Listing Referrers")."""

from __future__ import annotations

from aiohttp import web

from darse.registry.manifests import OCI_INDEX
from darse.registry.names import check_digest
from darse.registry.routes import json_response, state


async def referrers(request: web.Request, name: str, digest: str) -> web.StreamResponse:
    artifact_type = request.query.get("artifactType")
    storage = state(request).storage
    found = storage.referrers(name, check_digest(digest), artifact_type) \
        if storage.repo_exists(name) else []
    headers = {"OCI-Filters-Applied": "artifactType"} if artifact_type is not None else {}
    return json_response({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": found},
                         OCI_INDEX, **headers)
