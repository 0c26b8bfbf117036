"""The image store: images, their names, their layers, in state.db and on disk.

Shaped after the Engine API's image endpoints: list (GET /images/json), inspect
(GET /images/{name}/json), history, tag, remove (DELETE /images/{name}), prune. Pull,
push, save and load live in their own modules and use this one.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Callable
from typing import Any

from darse.db import Database
from darse.errors import Conflict, InvalidArgument, NotFound
from darse.image import configview
from darse.image import reference as refs
from darse.image.content import ContentStore
from darse.image.reference import Reference
from darse.image.registry import RegistryConfig
from darse.image.snapshots import Snapshots, chain_ids

SCHEMA = """
CREATE TABLE IF NOT EXISTS images (
    id TEXT PRIMARY KEY,
    created TEXT NOT NULL,
    size INTEGER NOT NULL,
    added TEXT NOT NULL,
    last_tag TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS image_names (
    name TEXT PRIMARY KEY,              -- docker.io/library/nginx:latest or repo@sha256:...
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    kind TEXT NOT NULL                  -- 'tag' or 'digest'
);
CREATE INDEX IF NOT EXISTS image_names_by_id ON image_names(image_id);
CREATE TABLE IF NOT EXISTS image_manifests (
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    repository TEXT NOT NULL,
    digest TEXT NOT NULL,
    media_type TEXT NOT NULL,
    PRIMARY KEY (image_id, repository, digest)
);
CREATE TABLE IF NOT EXISTS layers (
    chain_id TEXT PRIMARY KEY,
    diff_id TEXT NOT NULL,
    parent TEXT NOT NULL DEFAULT '',
    size INTEGER NOT NULL,
    blob TEXT NOT NULL DEFAULT '',      -- a compressed form we hold, for push and save
    blob_size INTEGER NOT NULL DEFAULT 0,
    media_type TEXT NOT NULL DEFAULT ''
);
-- What a build made an image from: its parent image and the step (the builder's cache
-- key), so that the same step on the same parent finds it again (docker's build cache).
CREATE TABLE IF NOT EXISTS image_parents (
    image_id TEXT PRIMARY KEY REFERENCES images(id) ON DELETE CASCADE,
    parent TEXT NOT NULL,
    cache_key TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS image_parents_by_parent ON image_parents(parent, cache_key);
"""

# Who uses an image or a layer outside the image store (containers, from the engine).
ImageUsers = Callable[[str], list[tuple[str, bool]]]


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat().replace("+00:00", "Z")


def _unix(ts: str) -> int:
    """Seconds since the epoch of an RFC 3339 time (Go writes nanoseconds)."""
    m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.\d+)?(Z|[+-]\d\d:\d\d)?", ts or "")
    if not m:
        return 0
    zone = (m.group(2) or "Z").replace("Z", "+00:00")
    return int(datetime.datetime.fromisoformat(m.group(1) + zone).timestamp())


def short_id(image_id: str) -> str:
    return image_id.split(":", 1)[-1][:12]


class ImageStore:
    def __init__(self, data_root: str, db: Database | None = None,
                 registry_config: RegistryConfig | None = None,
                 image_users: ImageUsers | None = None) -> None:
        self.root = data_root
        self.db = db or Database(f"{data_root}/state.db")
        self.db.schema(SCHEMA)
        self.content = ContentStore(data_root)
        self.snapshots = Snapshots(data_root)
        self.registry_config = registry_config or RegistryConfig()
        self.image_users: ImageUsers = image_users or (lambda _id: [])
        self.layer_users: Callable[[], set[str]] = lambda: set()
        self.layer_removed: Callable[[str], None] = lambda _chain_id: None

    # --- records -------------------------------------------------------------

    def add_layer(self, chain_id: str, diff_id: str, parent: str, size: int, blob: str = "",
                  blob_size: int = 0, media_type: str = "") -> None:
        self.db.execute(
            "INSERT INTO layers(chain_id, diff_id, parent, size, blob, blob_size, media_type) "
            "VALUES (?,?,?,?,?,?,?) ON CONFLICT(chain_id) DO UPDATE SET "
            "blob=CASE WHEN layers.blob='' THEN excluded.blob ELSE layers.blob END, "
            "blob_size=CASE WHEN layers.blob='' THEN excluded.blob_size ELSE layers.blob_size END,"
            " media_type=CASE WHEN layers.blob='' THEN excluded.media_type "
            "ELSE layers.media_type END",
            (chain_id, diff_id, parent, size, blob, blob_size, media_type))

    def store_layer(self, parent_diff_ids: list[str], diff_id: str, size: int, blob: str,
                    blob_size: int, media_type: str,
                    fill: Callable[[str], None] | None = None) -> str:
        """The layer diff_id atop parent_diff_ids, recorded with its blob; its snapshot
        (unless one is there) made by fill(diff_dir), else unpacked from the blob.
        Returns its ChainID."""
        import os

        from darse.image import layer

        chain = chain_ids([*parent_diff_ids, diff_id])
        if not self.has_layer(chain[-1]):
            tmp = self.snapshots.prepare()
            try:
                diff = os.path.join(tmp, "diff")
                if fill is not None:
                    fill(diff)
                else:
                    with self.content.open(blob) as f:
                        layer.unpack(f, diff)
                self.snapshots.commit(tmp, chain[-1])
            except BaseException:
                self.snapshots.discard(tmp)
                raise
            self.add_layer(chain[-1], diff_id, chain[-2] if len(chain) > 1 else "", size,
                           blob, blob_size, media_type)
        return chain[-1]

    def layer(self, chain_id: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT * FROM layers WHERE chain_id=?", (chain_id,)).fetchone()
        return dict(row) if row else None

    def has_layer(self, chain_id: str) -> bool:
        return self.layer(chain_id) is not None and self.snapshots.exists(chain_id)

    def register(self, config_raw: bytes, names: list[Reference] = (),
                 manifest: tuple[str, str, str] | None = None) -> str:
        """Record an image whose layers are all in place; returns its id (the config
        digest). manifest is (repository, digest, media type) when it came from one."""
        config = json.loads(config_raw)
        image_id = self.content.put(config_raw)
        diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
        chain = chain_ids(diff_ids)
        missing = [c for c in chain if not self.has_layer(c)]
        if missing:
            raise InvalidArgument(f"image {short_id(image_id)}: layer {missing[0]} is missing")
        size = sum(self.layer(c)["size"] for c in chain)
        with self.db.transaction() as tx:
            tx.execute("INSERT OR IGNORE INTO images(id, created, size, added) VALUES (?,?,?,?)",
                       (image_id, config.get("created") or _now(), size, _now()))
            if manifest:
                tx.execute("INSERT OR IGNORE INTO image_manifests VALUES (?,?,?,?)",
                           (image_id, *manifest))
                tx.execute("INSERT OR REPLACE INTO image_names VALUES (?,?,?)",
                           (f"{manifest[0]}@{manifest[1]}", image_id, "digest"))
            for ref in names:
                self._set_name(tx, ref, image_id)
        return image_id

    def _set_name(self, tx: Any, ref: Reference, image_id: str) -> None:
        if ref.digest:
            tx.execute("INSERT OR REPLACE INTO image_names VALUES (?,?,?)",
                       (f"{ref.repository}@{ref.digest}", image_id, "digest"))
        if ref.tag:
            tx.execute("INSERT OR REPLACE INTO image_names VALUES (?,?,?)",
                       (f"{ref.repository}:{ref.tag}", image_id, "tag"))
            tx.execute("UPDATE images SET last_tag=? WHERE id=?", (_now(), image_id))

    def set_parent(self, image_id: str, parent: str, cache_key: str = "") -> None:
        self.db.execute("INSERT OR REPLACE INTO image_parents VALUES (?,?,?)",
                        (image_id, parent, cache_key))

    def parent(self, image_id: str) -> str:
        row = self.db.execute("SELECT parent FROM image_parents WHERE image_id=?",
                              (image_id,)).fetchone()
        return row["parent"] if row else ""

    def children(self, image_id: str) -> list[str]:
        return [r["image_id"] for r in self.db.execute(
            "SELECT image_id FROM image_parents WHERE parent=?", (image_id,))]

    def cached_child(self, parent: str, cache_key: str) -> str | None:
        """The newest image a build made from parent by the step cache_key."""
        row = self.db.execute(
            "SELECT p.image_id FROM image_parents p JOIN images i ON i.id=p.image_id "
            "WHERE p.parent=? AND p.cache_key=? ORDER BY i.created DESC LIMIT 1",
            (parent, cache_key)).fetchone()
        return row["image_id"] if row else None

    # --- lookups -------------------------------------------------------------

    def resolve(self, name: str) -> str:
        """An image id from a name, a full id, sha256:id, or a unique id prefix."""
        if refs.is_image_id(name):
            image_id = "sha256:" + name.removeprefix("sha256:")
            if self.db.execute("SELECT 1 FROM images WHERE id=?", (image_id,)).fetchone():
                return image_id
        try:
            ref = refs.parse(name)
        except InvalidArgument:
            ref = None
        if ref is not None:
            key = f"{ref.repository}@{ref.digest}" if ref.digest else f"{ref.repository}:{ref.tag}"
            row = self.db.execute("SELECT image_id FROM image_names WHERE name=?",
                                  (key,)).fetchone()
            if row:
                return row["image_id"]
        prefix = name.removeprefix("sha256:")
        if 1 <= len(prefix) < 64 and all(c in "0123456789abcdef" for c in prefix):
            rows = self.db.execute("SELECT id FROM images WHERE id LIKE ?",
                                   (f"sha256:{prefix}%",)).fetchall()
            if len(rows) == 1:
                return rows[0]["id"]
        raise NotFound(f"No such image: {name}")

    def exists(self, name: str) -> bool:
        try:
            self.resolve(name)
            return True
        except NotFound:
            return False

    def config(self, image_id: str) -> dict[str, Any]:
        return json.loads(self.content.read(image_id))

    def chain(self, image_id: str) -> list[str]:
        return chain_ids((self.config(image_id).get("rootfs") or {}).get("diff_ids") or [])

    def names(self, image_id: str) -> tuple[list[str], list[str]]:
        """(RepoTags, RepoDigests) as docker shows them (familiar names)."""
        rows = self.db.execute("SELECT name, kind FROM image_names WHERE image_id=? "
                               "ORDER BY rowid", (image_id,)).fetchall()
        tags = [refs.parse(r["name"]).familiar() for r in rows if r["kind"] == "tag"]
        digests = [refs.parse(r["name"]).familiar() for r in rows if r["kind"] == "digest"]
        return tags, digests

    def image_ids(self) -> list[str]:
        return [r["id"] for r in self.db.execute("SELECT id FROM images ORDER BY added DESC")]

    def manifests(self, image_id: str) -> list[dict[str, str]]:
        return [dict(r) for r in self.db.execute(
            "SELECT repository, digest, media_type FROM image_manifests WHERE image_id=?",
            (image_id,))]

    # --- the Engine API's views ----------------------------------------------

    def size(self, image_id: str) -> int:
        """The image's unpacked size; 0 for an image that is gone."""
        row = self.db.execute("SELECT size FROM images WHERE id=?", (image_id,)).fetchone()
        return row["size"] if row else 0

    def summary(self, image_id: str) -> dict[str, Any]:
        row = self.db.execute("SELECT * FROM images WHERE id=?", (image_id,)).fetchone()
        config = self.config(image_id)
        tags, digests = self.names(image_id)
        return {
            "Id": image_id, "ParentId": self.parent(image_id), "RepoTags": tags,
            "RepoDigests": digests,
            "Created": _unix(row["created"]), "Size": row["size"], "SharedSize": -1,
            "VirtualSize": row["size"],
            "Labels": (config.get("config") or {}).get("Labels") or {}, "Containers": -1,
        }

    def list(self, all: bool = False, filters: dict[str, list[str]] | None = None
             ) -> list[dict[str, Any]]:
        filters = filters or {}
        for key in filters:
            if key not in ("dangling", "reference", "label", "before", "since"):
                raise InvalidArgument(f"invalid filter '{key}'")
        out = []
        parents = {r["parent"] for r in self.db.execute("SELECT parent FROM image_parents")}
        for image_id in self.image_ids():
            s = self.summary(image_id)
            if not all and not s["RepoTags"] and image_id in parents:
                continue  # a build's intermediate image: docker images -a shows it
            if not self._match(s, filters):
                continue
            out.append(s)
        return out

    def _match(self, s: dict[str, Any], filters: dict[str, list[str]]) -> bool:
        import fnmatch

        for value in filters.get("dangling", []):
            if value.lower() not in ("true", "false", "1", "0"):
                raise InvalidArgument(f"Invalid filter 'dangling={value}'")
            dangling = value.lower() in ("true", "1")
            if dangling != (not s["RepoTags"]):
                return False
        if filters.get("reference"):
            names = [t.rsplit(":", 1)[0] for t in s["RepoTags"]] + s["RepoTags"]
            if not any(fnmatch.fnmatch(n, pat) for pat in filters["reference"] for n in names):
                return False
        for label in filters.get("label", []):
            key, _, val = label.partition("=")
            if key not in s["Labels"] or (val and s["Labels"][key] != val):
                return False
        for key, cmp in (("before", lambda a, b: a < b), ("since", lambda a, b: a > b)):
            for name in filters.get(key, []):
                other = self.summary(self.resolve(name))["Created"]
                if not cmp(s["Created"], other):
                    return False
        return True

    def inspect(self, name: str) -> dict[str, Any]:
        image_id = self.resolve(name)
        row = self.db.execute("SELECT * FROM images WHERE id=?", (image_id,)).fetchone()
        config = self.config(image_id)
        tags, digests = self.names(image_id)
        chain = self.chain(image_id)
        lowers = [self.snapshots.diff(c) for c in reversed(chain)]
        out = {
            "Id": image_id, "RepoTags": tags, "RepoDigests": digests,
            "Parent": self.parent(image_id),
            "Comment": next((h.get("comment", "") for h in reversed(config.get("history") or [])
                             if h.get("comment")), ""),
            "Created": config.get("created") or row["created"],
            "Container": config.get("container", ""),  # a commit's container
            "ContainerConfig": configview.shown(config.get("container_config")),
            "DockerVersion": config.get("docker_version", ""),
            "Author": config.get("author", ""), "Config": configview.shown(config.get("config")),
            "Architecture": config.get("architecture", ""), "Os": config.get("os", ""),
            "Size": row["size"], "VirtualSize": row["size"],
            "GraphDriver": {"Name": "overlay2", "Data": {
                "LowerDir": ":".join(lowers[1:]) if len(lowers) > 1 else None,
                "UpperDir": lowers[0] if lowers else None,
                "MergedDir": None, "WorkDir": None}},
            "RootFS": {"Type": "layers",
                       "Layers": (config.get("rootfs") or {}).get("diff_ids") or []},
            "Metadata": {"LastTagTime": row["last_tag"] or "0001-01-01T00:00:00Z"},
        }
        if config.get("variant"):
            out["Variant"] = config["variant"]
        if config.get("os.version"):
            out["OsVersion"] = config["os.version"]
        return out

    def history(self, name: str) -> list[dict[str, Any]]:
        image_id = self.resolve(name)
        config = self.config(image_id)
        chain = self.chain(image_id)
        sizes = [self.layer(c)["size"] for c in chain]
        entries = []
        layer = 0
        for h in config.get("history") or []:
            size = 0
            if not h.get("empty_layer"):
                size = sizes[layer] if layer < len(sizes) else 0
                layer += 1
            entries.append({"Created": _unix(h.get("created", "")), "CreatedBy":
                            h.get("created_by", ""), "Comment": h.get("comment", ""),
                            "Size": size, "Tags": None, "Id": "<missing>"})
        if not entries:
            entries = [{"Created": _unix(config.get("created", "")), "CreatedBy": "",
                        "Comment": "", "Size": sum(sizes), "Tags": None, "Id": "<missing>"}]
        entries.reverse()
        entries[0]["Id"] = image_id
        entries[0]["Tags"] = self.names(image_id)[0] or None
        return entries

    def tag(self, source: str, target: str) -> None:
        image_id = self.resolve(source)
        ref = refs.parse(target)
        if ref.digest:
            raise InvalidArgument("refusing to create a tag with a digest reference")
        with self.db.transaction() as tx:
            self._set_name(tx, ref, image_id)

    # --- removal ---------------------------------------------------------------

    def remove(self, name: str, force: bool = False, prune: bool = True
               ) -> list[dict[str, str]]:
        """docker rmi: untag, or delete when the last name goes (or an id is given)."""
        image_id = self.resolve(name)
        by_id = refs.is_image_id(name) or not self._is_name(name)
        rows = self.db.execute("SELECT name, kind FROM image_names WHERE image_id=?",
                               (image_id,)).fetchall()
        tag_rows = [r for r in rows if r["kind"] == "tag"]
        users = self.image_users(image_id)
        if not by_id:
            ref = refs.parse(name)
            key = f"{ref.repository}@{ref.digest}" if ref.digest else f"{ref.repository}:{ref.tag}"
            gone = [key]
            rest = [r for r in rows if r["name"] != key]
            if not ref.digest and not any(
                    r["kind"] == "tag" and refs.parse(r["name"]).repository == ref.repository
                    for r in rest):
                # as dockerd: a repository's digest references go with its last tag
                gone += [r["name"] for r in rest if r["kind"] == "digest"
                         and refs.parse(r["name"]).repository == ref.repository]
                rest = [r for r in rest if r["name"] not in gone]
            if rest or self.children(image_id):
                # docker keeps an image other images were built on: only the names go.
                self.db.execute(f"DELETE FROM image_names WHERE name IN "
                                f"({','.join('?' * len(gone))})", gone)
                return [{"Untagged": refs.parse(n).familiar()} for n in gone]
            if users and not force:
                cid, _ = users[0]
                raise Conflict(f'conflict: unable to remove repository reference "{name}" '
                               f"(must force) - container {cid[:12]} is using its referenced "
                               f"image {short_id(image_id)}")
        else:
            repos = {refs.parse(r["name"]).repository for r in tag_rows}
            if len(repos) > 1 and not force:
                raise Conflict(f"conflict: unable to delete {short_id(image_id)} (must be "
                               "forced) - image is referenced in multiple repositories")
            if self.children(image_id):
                if not tag_rows:
                    raise Conflict(f"conflict: unable to delete {short_id(image_id)} (cannot "
                                   "be forced) - image has dependent child images")
                # docker keeps an image its children build on: only its names go.
                self.db.execute("DELETE FROM image_names WHERE image_id=?", (image_id,))
                return [{"Untagged": refs.parse(r["name"]).familiar()} for r in rows]
            running = [c for c, r in users if r]
            if running:
                raise Conflict(f"conflict: unable to delete {short_id(image_id)} (cannot be "
                               f"forced) - image is being used by running container "
                               f"{running[0][:12]}")
            if users and not force:
                raise Conflict(f"conflict: unable to delete {short_id(image_id)} (must be "
                               f"forced) - image is being used by stopped container "
                               f"{users[0][0][:12]}")
        out = [{"Untagged": refs.parse(r["name"]).familiar()} for r in rows]
        if users:
            # docker keeps an image a stopped container uses, untagged, even with -f.
            self.db.execute("DELETE FROM image_names WHERE image_id=?", (image_id,))
            return out
        parent = self.parent(image_id)
        self.db.execute("DELETE FROM images WHERE id=?", (image_id,))
        out.append({"Deleted": image_id})
        if prune:
            out += self._remove_parents(parent)
            out += [{"Deleted": c} for c in self.gc()]
        return out

    def _remove_parents(self, image_id: str) -> list[dict[str, str]]:
        """As docker rmi: the untagged parents a build left go with their last child."""
        out: list[dict[str, str]] = []
        while image_id and not self.names(image_id)[0] and not self.children(image_id) \
                and not self.image_users(image_id) and self.db.execute(
                    "SELECT 1 FROM images WHERE id=?", (image_id,)).fetchone():
            parent = self.parent(image_id)
            self.db.execute("DELETE FROM images WHERE id=?", (image_id,))
            out.append({"Deleted": image_id})
            image_id = parent
        return out

    def _is_name(self, name: str) -> bool:
        try:
            ref = refs.parse(name)
        except InvalidArgument:
            return False
        key = f"{ref.repository}@{ref.digest}" if ref.digest else f"{ref.repository}:{ref.tag}"
        return self.db.execute("SELECT 1 FROM image_names WHERE name=?", (key,)).fetchone() \
            is not None

    def prune(self, dangling_only: bool = True,
              allowed: Callable[[str], bool] | None = None) -> dict[str, Any]:
        """Unused images (untagged ones only, unless dangling_only is false) that
        `allowed` (the prune's filters) lets go."""
        deleted: list[dict[str, str]] = []
        before = self._disk_usage()
        for image_id in self.image_ids():
            tags, _ = self.names(image_id)
            if (tags and dangling_only) or self.image_users(image_id) \
                    or self.children(image_id) or {"Deleted": image_id} in deleted:
                continue  # a build's parent goes with its last child, as in docker
            if allowed is not None and not allowed(image_id):
                continue
            rows = self.db.execute("SELECT name FROM image_names WHERE image_id=?",
                                   (image_id,)).fetchall()
            deleted += [{"Untagged": refs.parse(r["name"]).familiar()} for r in rows]
            parent = self.parent(image_id)
            self.db.execute("DELETE FROM images WHERE id=?", (image_id,))
            deleted.append({"Deleted": image_id})
            deleted += self._remove_parents(parent)
        deleted += [{"Deleted": c} for c in self.gc()]
        return {"ImagesDeleted": deleted or None,
                "SpaceReclaimed": max(before - self._disk_usage(), 0)}

    def _disk_usage(self) -> int:
        return sum(r["size"] for r in self.db.execute("SELECT size FROM layers"))

    def referenced_blobs(self) -> set[str]:
        """Configs, manifests (and what they list) and layer archives of known images."""
        keep: set[str] = set()
        for image_id in self.image_ids():
            keep.add(image_id)
            for m in self.manifests(image_id):
                keep.add(m["digest"])
                if self.content.has(m["digest"]):
                    try:
                        parsed = json.loads(self.content.read(m["digest"]))
                    except ValueError:
                        continue
                    keep.update(d["digest"] for d in parsed.get("layers") or []
                                if isinstance(d, dict))
        keep.update(r["blob"] for r in self.db.execute("SELECT blob FROM layers") if r["blob"])
        return keep

    def gc(self) -> list[str]:
        """Remove layers and blobs that no image (nor container) needs any more."""
        keep_layers: set[str] = set(self.layer_users())
        for image_id in self.image_ids():
            keep_layers.update(self.chain(image_id))
        removed = []
        for row in self.db.execute("SELECT chain_id FROM layers").fetchall():
            if row["chain_id"] not in keep_layers:
                self.db.execute("DELETE FROM layers WHERE chain_id=?", (row["chain_id"],))
                self.snapshots.remove(row["chain_id"])
                self.layer_removed(row["chain_id"])
                removed.append(row["chain_id"])
        keep_blobs = self.referenced_blobs()
        for digest in list(self.content.digests()):
            if digest not in keep_blobs:
                self.content.delete(digest)
        for chain_id in self.snapshots.all():
            if self.layer(chain_id) is None and chain_id not in keep_layers:
                self.snapshots.remove(chain_id)
        return removed
