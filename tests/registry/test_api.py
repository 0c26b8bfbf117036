"""Each endpoint of the distribution spec v1.1 and each error code, over raw HTTP."""

from __future__ import annotations

import hashlib
import json
import os

import httpx
import pytest

from tests.registry.conftest import DarseRegistry

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
EMPTY_CONFIG = "application/vnd.oci.empty.v1+json"


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def code(resp: httpx.Response) -> str:
    return resp.json()["errors"][0]["code"]


def push_blob(http: httpx.Client, name: str, data: bytes) -> str:
    digest = sha(data)
    resp = http.post(f"/v2/{name}/blobs/uploads/", params={"digest": digest}, content=data)
    assert resp.status_code == 201, resp.text
    return digest


def manifest(config: bytes, layers: list[bytes], **extra: object) -> bytes:
    doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
           "config": {"mediaType": EMPTY_CONFIG if config == b"{}" else
                      "application/vnd.oci.image.config.v1+json",
                      "digest": sha(config), "size": len(config)},
           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                       "digest": sha(layer), "size": len(layer)} for layer in layers], **extra}
    return json.dumps(doc).encode()


def push_image(http: httpx.Client, name: str, ref: str, layers: list[bytes],
               **extra: object) -> tuple[str, bytes]:
    push_blob(http, name, b"{}")
    for layer in layers:
        push_blob(http, name, layer)
    raw = manifest(b"{}", layers, **extra)
    resp = http.put(f"/v2/{name}/manifests/{ref}", content=raw,
                    headers={"Content-Type": OCI_MANIFEST})
    assert resp.status_code == 201, resp.text
    assert resp.headers["Docker-Content-Digest"] == sha(raw)
    assert resp.headers["Location"] == f"/v2/{name}/manifests/{sha(raw)}"
    return sha(raw), raw


def test_base_and_version_header(darse_registry: DarseRegistry) -> None:
    resp = darse_registry.http.get("/v2/")
    assert resp.status_code == 200
    assert resp.headers["Docker-Distribution-API-Version"] == "registry/2.0"
    # Errors carry it too.
    resp = darse_registry.http.get("/v2/nope/tags/list")
    assert resp.headers["Docker-Distribution-API-Version"] == "registry/2.0"
    assert resp.status_code == 404 and code(resp) == "NAME_UNKNOWN"


def test_monolithic_push_pull_head_range(darse_registry: DarseRegistry) -> None:
    http = darse_registry.http
    data = os.urandom(100_000)
    digest = push_blob(http, "a/b", data)
    resp = http.get(f"/v2/a/b/blobs/{digest}")
    assert resp.status_code == 200 and resp.content == data
    assert resp.headers["Docker-Content-Digest"] == digest
    head = http.head(f"/v2/a/b/blobs/{digest}")
    assert head.status_code == 200 and head.headers["Content-Length"] == str(len(data))
    assert head.content == b""
    part = http.get(f"/v2/a/b/blobs/{digest}", headers={"Range": "bytes=1000-1999"})
    assert part.status_code == 206 and part.content == data[1000:2000]
    assert part.headers["Content-Range"] == f"bytes 1000-1999/{len(data)}"
    beyond = http.get(f"/v2/a/b/blobs/{digest}", headers={"Range": "bytes=200000-"})
    assert beyond.status_code == 416
    # POST then PUT with the whole body: the other monolithic form.
    other = os.urandom(5000)
    start = http.post("/v2/a/b/blobs/uploads/")
    assert start.status_code == 202 and start.headers["Location"].startswith(
        "/v2/a/b/blobs/uploads/")
    assert start.headers["Docker-Upload-UUID"] in start.headers["Location"]
    done = http.put(start.headers["Location"], params={"digest": sha(other)}, content=other)
    assert done.status_code == 201 and done.headers["Docker-Content-Digest"] == sha(other)
    assert http.get(done.headers["Location"]).content == other


def test_chunked_upload_status_and_order(darse_registry: DarseRegistry) -> None:
    http = darse_registry.http
    data = os.urandom(3000)
    loc = http.post("/v2/chunky/blobs/uploads/").headers["Location"]
    # Out of order: 416, nothing written.
    resp = http.patch(loc, content=data[1000:], headers={"Content-Range": "1000-2999"})
    assert resp.status_code == 416 and code(resp) == "BLOB_UPLOAD_INVALID"
    resp = http.patch(loc, content=data[:5], headers={"Content-Range": "0-9"})
    assert resp.status_code == 400 and code(resp) == "SIZE_INVALID"
    resp = http.patch(loc, content=data[:5], headers={"Content-Range": "bytes=zero-four"})
    assert resp.status_code == 400 and code(resp) == "BLOB_UPLOAD_INVALID"
    assert http.get(loc).headers["Range"] == "0-0"  # nothing was written
    resp = http.patch(loc, content=data[:1000], headers={
        "Content-Range": "0-999", "Content-Type": "application/octet-stream"})
    assert resp.status_code == 202 and resp.headers["Range"] == "0-999"
    loc = resp.headers["Location"]
    # The same chunk again: 416.
    assert http.patch(loc, content=data[:1000], headers={"Content-Range": "0-999"}
                      ).status_code == 416
    status = http.get(loc)
    assert status.status_code == 204 and status.headers["Range"] == "0-999"
    # Not visible while in progress.
    assert http.head(f"/v2/chunky/blobs/{sha(data)}").status_code == 404
    resp = http.patch(loc, content=data[1000:], headers={"Content-Range": "1000-2999"})
    assert resp.status_code == 202 and resp.headers["Range"] == "0-2999"
    # A streamed chunk (no Content-Range) and the last bytes on the PUT.
    more = os.urandom(10)
    done = http.put(resp.headers["Location"], params={"digest": sha(data + more)},
                    content=more)
    assert done.status_code == 201
    assert http.get(f"/v2/chunky/blobs/{sha(data + more)}").content == data + more
    assert http.get(loc).status_code == 404 and code(http.get(loc)) == "BLOB_UPLOAD_UNKNOWN"


def test_digest_check_on_completion(darse_registry: DarseRegistry) -> None:
    http = darse_registry.http
    data = b"what was sent"
    wrong = sha(b"something else")
    resp = http.post("/v2/x/blobs/uploads/", params={"digest": wrong}, content=data)
    assert resp.status_code == 400 and code(resp) == "DIGEST_INVALID"
    assert http.head(f"/v2/x/blobs/{wrong}").status_code == 404
    assert http.head(f"/v2/x/blobs/{sha(data)}").status_code == 404
    loc = http.post("/v2/x/blobs/uploads/").headers["Location"]
    resp = http.put(loc, content=data)  # no digest
    assert resp.status_code == 400 and code(resp) == "DIGEST_INVALID"
    resp = http.put(loc, params={"digest": "sha256:abc"}, content=data)
    assert resp.status_code == 400 and code(resp) == "DIGEST_INVALID"
    assert os.listdir(darse_registry.root / "uploads") == [loc.rsplit("/", 1)[1]]
    assert os.listdir(darse_registry.root / "blobs") == []


def test_upload_cancel_and_unknown(darse_registry: DarseRegistry) -> None:
    http = darse_registry.http
    loc = http.post("/v2/x/blobs/uploads/").headers["Location"]
    assert http.delete(loc).status_code == 204
    for resp in (http.get(loc), http.patch(loc, content=b"x"), http.delete(loc)):
        assert resp.status_code == 404 and code(resp) == "BLOB_UPLOAD_UNKNOWN"
    uuid = loc.rsplit("/", 1)[1]
    for other in (uuid.upper(), "{" + uuid + "}", "urn:uuid:" + uuid, "x"):
        resp = http.get(f"/v2/x/blobs/uploads/{other}")
        assert resp.status_code == 404 and code(resp) == "BLOB_UPLOAD_UNKNOWN"
    # An upload belongs to its repository.
    loc = http.post("/v2/x/blobs/uploads/").headers["Location"]
    other = loc.replace("/v2/x/", "/v2/y/")
    assert code(http.get(other)) == "BLOB_UPLOAD_UNKNOWN"
    assert os.listdir(darse_registry.root / "uploads") == [loc.rsplit("/", 1)[1]]


def test_blob_errors_and_delete(darse_registry: DarseRegistry) -> None:
    http = darse_registry.http
    digest = push_blob(http, "one", b"shared")
    for resp in (http.get(f"/v2/one/blobs/{sha(b'nope')}"),
                 http.get(f"/v2/two/blobs/{digest}")):  # pushed to "one" only
        assert resp.status_code == 404 and code(resp) == "BLOB_UNKNOWN"
    resp = http.get("/v2/one/blobs/sha256:xyz")
    assert resp.status_code == 400 and code(resp) == "DIGEST_INVALID"
    resp = http.get(f"/v2/One/blobs/{digest}")
    assert resp.status_code == 400 and code(resp) == "NAME_INVALID"
    assert http.delete(f"/v2/one/blobs/{digest}").status_code == 202
    assert http.head(f"/v2/one/blobs/{digest}").status_code == 404
    assert code(http.delete(f"/v2/one/blobs/{digest}")) == "BLOB_UNKNOWN"


def test_cross_repository_mount(darse_registry: DarseRegistry) -> None:
    http = darse_registry.http
    digest = push_blob(http, "src/repo", b"layer bytes")
    resp = http.post("/v2/dst/repo/blobs/uploads/", params={"mount": digest,
                                                           "from": "src/repo"})
    assert resp.status_code == 201
    assert resp.headers["Location"] == f"/v2/dst/repo/blobs/{digest}"
    assert http.get(f"/v2/dst/repo/blobs/{digest}").content == b"layer bytes"
    # Not in the source: an upload session instead.
    resp = http.post("/v2/dst/repo/blobs/uploads/", params={"mount": sha(b"absent"),
                                                           "from": "src/repo"})
    assert resp.status_code == 202 and "/blobs/uploads/" in resp.headers["Location"]
    blobs = os.listdir(darse_registry.root / "blobs" / "sha256")
    assert blobs == [digest.split(":")[1]]  # one copy for both repositories


def test_manifests_by_tag_and_digest(darse_registry: DarseRegistry) -> None:
    http = darse_registry.http
    digest, raw = push_image(http, "app", "v1", [b"layer one"])
    for ref in ("v1", digest):
        resp = http.get(f"/v2/app/manifests/{ref}", headers={"Accept": OCI_MANIFEST})
        assert resp.status_code == 200 and resp.content == raw
        assert resp.headers["Content-Type"] == OCI_MANIFEST
        assert resp.headers["Docker-Content-Digest"] == digest
        head = http.head(f"/v2/app/manifests/{ref}")
        assert head.status_code == 200 and head.headers["Content-Length"] == str(len(raw))
        assert head.headers["Docker-Content-Digest"] == digest
    resp = http.get("/v2/app/manifests/v2")
    assert resp.status_code == 404 and code(resp) == "MANIFEST_UNKNOWN"
    resp = http.get("/v2/nothere/manifests/v1")
    assert resp.status_code == 404 and code(resp) == "NAME_UNKNOWN"
    # PUT by digest: the digest must be the content's.
    resp = http.put(f"/v2/app/manifests/{digest}", content=raw,
                    headers={"Content-Type": OCI_MANIFEST})
    assert resp.status_code == 201
    resp = http.put(f"/v2/app/manifests/{sha(b'other')}", content=raw,
                    headers={"Content-Type": OCI_MANIFEST})
    assert resp.status_code == 400 and code(resp) == "DIGEST_INVALID"


@pytest.mark.parametrize("body,why", [
    (b"not json", "not JSON"),
    (b'{"schemaVersion": 1, "name": "app", "tag": "v1", "fsLayers": []}', "schema 1"),
    (b'{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json"}',
     "config"),
    (b'{"schemaVersion": 2, "config": {"digest": "sha256:1", "size": 1}, "layers": []}',
     "invalid digest"),
])
def test_invalid_manifests(darse_registry: DarseRegistry, body: bytes, why: str) -> None:
    resp = darse_registry.http.put("/v2/app/manifests/v1", content=body,
                                   headers={"Content-Type": OCI_MANIFEST})
    assert resp.status_code == 400 and code(resp) == "MANIFEST_INVALID"
    assert why in json.dumps(resp.json())
    resp = darse_registry.http.put("/v2/app/manifests/bad tag!", content=body)
    assert resp.status_code == 400 and code(resp) == "MANIFEST_INVALID"


def test_manifest_blobs_and_children_must_exist(darse_registry: DarseRegistry) -> None:
    http = darse_registry.http
    push_blob(http, "app", b"{}")
    raw = manifest(b"{}", [b"never pushed"])
    resp = http.put("/v2/app/manifests/v1", content=raw, headers={"Content-Type": OCI_MANIFEST})
    assert resp.status_code == 400 and code(resp) == "MANIFEST_BLOB_UNKNOWN"
    assert resp.json()["errors"][0]["detail"]["digest"] == sha(b"never pushed")
    child, child_raw = push_image(http, "app", child_digest_tag := "child", [b"l"])
    assert child_digest_tag == "child"
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": child, "size": len(child_raw),
         "platform": {"architecture": "amd64", "os": "linux"}},
        {"mediaType": OCI_MANIFEST, "digest": sha(b"missing child"), "size": 13}]}
    resp = http.put("/v2/app/manifests/multi", content=json.dumps(index).encode(),
                    headers={"Content-Type": OCI_INDEX})
    assert resp.status_code == 400 and code(resp) == "MANIFEST_BLOB_UNKNOWN"
    index["manifests"].pop()
    resp = http.put("/v2/app/manifests/multi", content=json.dumps(index).encode(),
                    headers={"Content-Type": OCI_INDEX})
    assert resp.status_code == 201
    assert http.get("/v2/app/manifests/multi").headers["Content-Type"] == OCI_INDEX


def test_tags_list_pagination_and_catalog(darse_registry: DarseRegistry) -> None:
    http = darse_registry.http
    for tag in ("b", "a", "c", "1.0"):
        push_image(http, "lib/app", tag, [b"same"])
    push_image(http, "other", "x", [b"y"])
    resp = http.get("/v2/lib/app/tags/list")
    assert resp.json() == {"name": "lib/app", "tags": ["1.0", "a", "b", "c"]}
    page = http.get("/v2/lib/app/tags/list", params={"n": 2})
    assert page.json()["tags"] == ["1.0", "a"]
    assert page.headers["Link"] == '</v2/lib/app/tags/list?n=2&last=a>; rel="next"'
    page = http.get("/v2/lib/app/tags/list?n=2&last=a")
    assert page.json()["tags"] == ["b", "c"] and "Link" not in page.headers
    assert http.get("/v2/lib/app/tags/list", params={"n": 0}).json()["tags"] == []
    assert http.get("/v2/lib/app/tags/list", params={"last": "b"}).json()["tags"] == ["c"]
    assert http.get("/v2/lib/app/tags/list", params={"n": "-1"}).status_code == 400
    assert http.get("/v2/_catalog").json() == {"repositories": ["lib/app", "other"]}
    page = http.get("/v2/_catalog", params={"n": 1})
    assert page.json() == {"repositories": ["lib/app"]}
    assert page.headers["Link"] == '</v2/_catalog?n=1&last=lib%2Fapp>; rel="next"'
    assert http.get("/v2/_catalog?n=1&last=lib%2Fapp").json() == {"repositories": ["other"]}


def test_delete_tag_and_manifest(darse_registry: DarseRegistry) -> None:
    http = darse_registry.http
    digest, _ = push_image(http, "app", "v1", [b"z"])
    push_image(http, "app", "v2", [b"z"])
    assert http.delete("/v2/app/manifests/v2").status_code == 202  # by tag: the tag only
    assert http.get("/v2/app/tags/list").json()["tags"] == ["v1"]
    assert http.get(f"/v2/app/manifests/{digest}").status_code == 200
    assert http.delete(f"/v2/app/manifests/{digest}").status_code == 202
    assert http.get("/v2/app/tags/list").json()["tags"] == []  # its tags went with it
    resp = http.get(f"/v2/app/manifests/{digest}")
    assert resp.status_code == 404 and code(resp) == "MANIFEST_UNKNOWN"
    assert code(http.delete(f"/v2/app/manifests/{digest}")) == "MANIFEST_UNKNOWN"
    assert code(http.delete("/v2/app/manifests/v9")) == "MANIFEST_UNKNOWN"


def test_referrers(darse_registry: DarseRegistry) -> None:
    http = darse_registry.http
    subject, subject_raw = push_image(http, "app", "v1", [b"base"])
    descriptor = {"mediaType": OCI_MANIFEST, "digest": subject, "size": len(subject_raw)}
    sig, sig_raw = push_image(http, "app", sha(manifest(b"{}", [b"sig"], subject=descriptor,
                                                         artifactType="application/x.sig")),
                              [b"sig"], subject=descriptor, artifactType="application/x.sig")
    # The OCI-Subject header on push.
    resp = http.put(f"/v2/app/manifests/{sig}", content=sig_raw,
                    headers={"Content-Type": OCI_MANIFEST})
    assert resp.headers["OCI-Subject"] == subject
    sbom, _ = push_image(http, "app", "sbom", [b"sbom"], subject=descriptor,
                         artifactType="application/x.sbom", annotations={"k": "v"})
    resp = http.get(f"/v2/app/referrers/{subject}")
    assert resp.status_code == 200 and resp.headers["Content-Type"] == OCI_INDEX
    found = {m["digest"]: m for m in resp.json()["manifests"]}
    assert set(found) == {sig, sbom}
    assert found[sbom] == {"mediaType": OCI_MANIFEST, "digest": sbom,
                           "size": found[sbom]["size"], "artifactType": "application/x.sbom",
                           "annotations": {"k": "v"}}
    resp = http.get(f"/v2/app/referrers/{subject}", params={"artifactType": "application/x.sig"})
    assert [m["digest"] for m in resp.json()["manifests"]] == [sig]
    assert resp.headers["OCI-Filters-Applied"] == "artifactType"
    # A subject nobody refers to, and an invalid digest.
    assert http.get(f"/v2/app/referrers/{sha(b'x')}").json()["manifests"] == []
    assert code(http.get("/v2/app/referrers/sha256:nope")) == "DIGEST_INVALID"
    # Deleting a referrer takes it out of the list.
    assert http.delete(f"/v2/app/manifests/{sig}").status_code == 202
    assert [m["digest"] for m in http.get(f"/v2/app/referrers/{subject}"
                                          ).json()["manifests"]] == [sbom]


def test_unsupported_method(darse_registry: DarseRegistry) -> None:
    resp = darse_registry.http.request("PATCH", "/v2/app/manifests/v1")
    assert resp.status_code == 405 and code(resp) == "UNSUPPORTED"


def test_read_only(tmp_path) -> None:
    writer = DarseRegistry(tmp_path / "w")
    try:
        digest, _ = push_image(writer.http, "app", "v1", [b"ro"])
    finally:
        writer.stop()
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "root").symlink_to(tmp_path / "w" / "root")
    reader = DarseRegistry(tmp_path / "r", "--read-only")
    try:
        http = reader.http
        assert http.get("/v2/app/manifests/v1").status_code == 200
        for resp in (http.post("/v2/app/blobs/uploads/"),
                     http.delete(f"/v2/app/manifests/{digest}"),
                     http.put("/v2/app/manifests/v2", content=b"{}")):
            assert resp.status_code == 405 and code(resp) == "UNSUPPORTED"
        assert http.get("/v2/app/tags/list").json()["tags"] == ["v1"]
    finally:
        reader.stop()
