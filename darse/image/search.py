"""docker search: a registry's v1 search endpoint (Docker Hub's index for plain terms,
the named registry's for `HOST/TERM`), its results filtered as dockerd does."""

from __future__ import annotations

from typing import Any

import httpx

from darse.errors import InvalidArgument, SystemFailure, Unavailable
from darse.image.reference import DEFAULT_DOMAIN
from darse.image.registry import USER_AGENT, RegistryConfig

INDEX_HOST = "index.docker.io"
FILTERS = ("stars", "is-automated", "is-official")


def _bool_filter(name: str, values: list[str]) -> bool | None:
    if not values:
        return None
    value = values[-1].lower()
    if value not in ("true", "false", "1", "0"):
        raise InvalidArgument(f"Invalid filter '{name}=[{' '.join(values)}]'")
    return value in ("true", "1")


def search(config: RegistryConfig, term: str, limit: int = 25,
           filters: dict[str, list[str]] | None = None) -> list[dict[str, Any]]:
    """The matches of term (at most limit), as GET /images/search answers them."""
    if not 1 <= limit <= 100:
        raise InvalidArgument(f"Limit {limit} is outside the range of [1, 100]")
    filters = filters or {}
    for key in filters:
        if key not in FILTERS:
            raise InvalidArgument(f"Invalid filter '{key}'")
    stars = 0
    for value in filters.get("stars") or []:
        if not value.isdigit():
            raise InvalidArgument(f"Invalid filter 'stars={value}'")
        stars = max(stars, int(value))
    automated = _bool_filter("is-automated", filters.get("is-automated") or [])
    official = _bool_filter("is-official", filters.get("is-official") or [])
    host, _, rest = term.partition("/")
    if rest and ("." in host or ":" in host or host == "localhost"):
        query = rest
    else:
        host, query = INDEX_HOST, term
    if host in (DEFAULT_DOMAIN, "registry-1.docker.io"):
        host = INDEX_HOST
    schemes = ["https", "http"] if config.is_insecure(host) else ["https"]
    errors = []
    with httpx.Client(timeout=httpx.Timeout(30.0, connect=10.0),
                      headers={"User-Agent": USER_AGENT}, follow_redirects=True) as http:
        for scheme in schemes:
            url = f"{scheme}://{host}/v1/search"
            try:
                resp = http.get(url, params={"q": query, "n": str(limit)})
            except httpx.HTTPError as exc:
                errors.append(f"Get \"{url}?q={query}&n={limit}\": {exc}")
                continue
            if resp.status_code != 200:
                raise SystemFailure(f"Unexpected status code {resp.status_code}")
            try:
                results = resp.json().get("results") or []
            except ValueError:
                raise SystemFailure(f"invalid search results from {host}") from None
            break
        else:
            raise Unavailable("; ".join(errors))
    out = []
    for r in results:
        if not isinstance(r, dict) or (r.get("star_count") or 0) < stars:
            continue
        if automated is not None and bool(r.get("is_automated")) != automated:
            continue
        if official is not None and bool(r.get("is_official")) != official:
            continue
        out.append({"star_count": r.get("star_count") or 0,
                    "is_official": bool(r.get("is_official")),
                    "name": r.get("name") or "", "is_automated": bool(r.get("is_automated")),
                    "description": r.get("description") or ""})
    return out[:limit]
