"""Auth over raw HTTP: htpasswd users by basic auth, darse's own bearer tokens and their
per-repository scopes, the challenge Docker's flow follows; TLS."""

from __future__ import annotations

import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import bcrypt
import httpx
import pytest

from tests.registry.conftest import DarseRegistry
from tests.registry.test_api import code, push_blob, sha

ALICE = ("alice", "s3cret")


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DarseRegistry]:
    base = tmp_path_factory.mktemp("secured")
    hashed = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=6)).decode()
    # htpasswd -B writes $2y$: the same algorithm under the name Apache gives it.
    (base / "htpasswd").write_text(f"# users\nalice:{hashed.replace('$2b$', '$2y$', 1)}\n")
    server = DarseRegistry(base, "--htpasswd", str(base / "htpasswd"))
    yield server
    server.stop()


def token(reg: DarseRegistry, *scopes: str, auth: tuple[str, str] | None = ALICE) -> str:
    resp = reg.http.get("/auth/token", params=[("service", "darse-registry")] +
                        [("scope", s) for s in scopes], auth=auth)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["token"] == body["access_token"] and body["expires_in"] > 0
    return body["token"]


def bearer(t: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {t}"}


def test_challenge(secured: DarseRegistry) -> None:
    resp = secured.http.get("/v2/")
    assert resp.status_code == 401 and code(resp) == "UNAUTHORIZED"
    assert resp.headers["WWW-Authenticate"] == (
        f'Bearer realm="http://{secured.host}/auth/token",service="darse-registry"')
    resp = secured.http.get("/v2/lib/app/tags/list")
    assert resp.headers["WWW-Authenticate"].endswith(',scope="repository:lib/app:pull"')
    resp = secured.http.post("/v2/lib/app/blobs/uploads/")
    assert resp.headers["WWW-Authenticate"].endswith(',scope="repository:lib/app:pull,push"')
    # A mount reads its source: one challenge for both, so one token does (docker-registry's).
    resp = secured.http.post("/v2/lib/app/blobs/uploads/", params={"mount": sha(b"x"),
                                                                  "from": "lib/base"})
    assert resp.headers["WWW-Authenticate"].endswith(
        ',scope="repository:lib/app:pull,push repository:lib/base:pull"')


def test_basic_auth(secured: DarseRegistry) -> None:
    assert secured.http.get("/v2/", auth=ALICE).status_code == 200
    assert secured.http.get("/v2/", auth=("alice", "nope")).status_code == 401
    assert secured.http.get("/v2/", auth=("bob", "s3cret")).status_code == 401
    push_blob(secured.http_as(ALICE), "basic/repo", b"by basic auth")


def test_token_scopes(secured: DarseRegistry) -> None:
    http = secured.http
    reader = bearer(token(secured, "repository:team/a:pull"))
    assert http.get("/v2/", headers=reader).status_code == 200
    resp = http.get("/v2/team/a/tags/list", headers=reader)
    assert resp.status_code == 404 and code(resp) == "NAME_UNKNOWN"  # allowed, just empty
    for resp in (http.post("/v2/team/a/blobs/uploads/", headers=reader),
                 http.get("/v2/team/b/tags/list", headers=reader),
                 http.get("/v2/_catalog", headers=reader)):
        assert resp.status_code == 401 and code(resp) == "UNAUTHORIZED"
        assert 'error="insufficient_scope"' in resp.headers["WWW-Authenticate"]
    writer = bearer(token(secured, "repository:team/a:pull,push"))
    data = b"pushed with a token"
    resp = http.post("/v2/team/a/blobs/uploads/", params={"digest": sha(data)}, content=data,
                     headers=writer)
    assert resp.status_code == 201
    assert http.delete(f"/v2/team/a/blobs/{sha(data)}", headers=writer).status_code == 401
    # Mounting needs pull on the source: the challenge asks for both repositories.
    other = bearer(token(secured, "repository:team/c:pull,push"))
    resp = http.post("/v2/team/c/blobs/uploads/", params={"mount": sha(data), "from": "team/a"},
                     headers=other)
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"].endswith(
        ',scope="repository:team/c:pull,push repository:team/a:pull",error="insufficient_scope"')
    both = bearer(token(secured, "repository:team/c:pull,push", "repository:team/a:pull"))
    resp = http.post("/v2/team/c/blobs/uploads/", params={"mount": sha(data), "from": "team/a"},
                     headers=both)
    assert resp.status_code == 201
    catalog = bearer(token(secured, "registry:catalog:*"))
    assert http.get("/v2/_catalog", headers=catalog).json()["repositories"] == [
        "basic/repo", "team/a", "team/c"]


def test_tokens_refused(secured: DarseRegistry) -> None:
    http = secured.http
    resp = http.get("/auth/token", params={"scope": "repository:x:pull"},
                    auth=("alice", "wrong"))
    assert resp.status_code == 401 and code(resp) == "UNAUTHORIZED"
    # The anonymous get a token that opens nothing (as Docker Hub's).
    anonymous = bearer(token(secured, "repository:x:pull", auth=None))
    assert http.get("/v2/x/tags/list", headers=anonymous).status_code == 401
    good = token(secured, "repository:x:pull")
    payload, _, signature = good.partition(".")
    forged = payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB") + "." + signature
    assert http.get("/v2/x/tags/list", headers=bearer(forged)).status_code == 401
    assert http.get("/v2/x/tags/list", headers=bearer("garbage")).status_code == 401


def test_oauth_password_grant(secured: DarseRegistry) -> None:
    resp = secured.http.post("/auth/token", data={
        "grant_type": "password", "username": "alice", "password": "s3cret",
        "service": "darse-registry", "scope": "repository:oauth/app:pull",
        "client_id": "docker"})
    assert resp.status_code == 200
    t = resp.json()["access_token"]
    assert secured.http.get("/v2/oauth/app/tags/list", headers=bearer(t)).status_code == 404
    resp = secured.http.post("/auth/token", data={
        "grant_type": "password", "username": "alice", "password": "x"})
    assert resp.status_code == 401


def test_htpasswd_without_bcrypt_is_refused(tmp_path: Path) -> None:
    (tmp_path / "htpasswd").write_text("alice:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n")
    with pytest.raises(RuntimeError, match="only bcrypt entries"):
        DarseRegistry(tmp_path, "--htpasswd", str(tmp_path / "htpasswd"))


def test_tls(tmp_path: Path, busybox_layout: Path) -> None:
    certs = tmp_path / "certs"
    certs.mkdir()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(certs / "key.pem"), "-out", str(certs / "ca.crt")],
                   check=True, capture_output=True)
    reg = DarseRegistry(tmp_path, "--tls-cert", str(certs / "ca.crt"), "--tls-key",
                        str(certs / "key.pem"), scheme="https",
                        verify=ssl.create_default_context(cafile=str(certs / "ca.crt")))
    try:
        assert reg.http.get("/v2/").status_code == 200
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://{reg.host}/v2/", timeout=5)
        reg.skopeo("copy", "--quiet", "--dest-cert-dir", str(certs),
                   f"oci:{busybox_layout}:latest", f"docker://{reg.host}/tls/busybox:latest")
        assert reg.http.get("/v2/tls/busybox/tags/list").json()["tags"] == ["latest"]
    finally:
        reg.stop()
