"""COPY and ADD as build steps: their sources (the context, another stage's image, an
image, an http(s) URL), named by the digest of their content for the cache, copied into
the image through darse.fs; ADD extracts local tar archives; --chown takes names the
image's own passwd and group files resolve, --chmod an octal mode."""

from __future__ import annotations

import contextlib
import email.utils
import os
import posixpath
import shutil
import tempfile
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from darse.build import cache, copy, instructions, words
from darse.build.addtar import extract, is_archive
from darse.build.copy import Copy, changed, expand
from darse.build.dockerfile import Instruction
from darse.build.tarcontext import TarContext
from darse.errors import InvalidArgument
from darse.fs.root import Root
from darse.image.snapshots import Snapshots, chain_ids

if TYPE_CHECKING:
    from darse.build.builder import Builder, State
    from darse.build.stages import Plan

__all__ = ["changed", "run"]
_MAX_ID_FILE = 4 << 20  # an image's passwd or group read whole: far above a real one


def run(builder: Builder, ins: Instruction, state: State, plan: Plan,
        built: dict[int, State]) -> None:
    env = state.variables()
    args = ins.json if ins.json is not None else words.words(ins.rest, env, ins.escape)
    if len(args) < 2:
        raise InvalidArgument(f"{ins.cmd} requires at least two arguments")
    *sources, dest = args
    if ins.cmd == "COPY" and any(_is_url(s) for s in sources):
        raise InvalidArgument("source can't be a URL for COPY")
    if "from" in ins.flags and ins.cmd != "COPY":
        raise InvalidArgument(f"dockerfile parse error line {ins.line}: Unknown flag: from")
    runtime = instructions.shell_of(state.runtime)
    workdir = state.runtime.get("WorkingDir") or "/"
    target = dest if dest.startswith("/") else posixpath.join(workdir, dest)
    if dest.endswith(("/", "/.")) or dest in (".", ".."):
        target = target.rstrip(".").rstrip("/") + "/"
    chown = words.word(ins.flags["chown"], env, ins.escape) if ins.flags.get("chown") else ""
    mode = _mode(ins.flags.get("chmod"))
    op = Copy(ins.cmd, [s for s in sources if not _is_url(s)], target, None, mode)
    with contextlib.ExitStack() as stack:
        index = builder.context if not ins.flags.get("from") else None
        heredocs = _heredoc_sources(ins, sources, env)
        if heredocs:
            index = None  # the sources are the here-documents, in a folder of their own
            root = stack.enter_context(_heredoc_folder(builder, heredocs))
            op.sources = list(heredocs)
            builder_from = True
        else:
            builder_from = False
        if isinstance(index, TarContext):
            # The context's index: its files are written out only if the step runs.
            found = expand(index, op) if op.sources else []  # type: ignore[arg-type]
            digest = cache.content_digest(index, [p for _, p in found]) if found else ""
            root_path = index.path  # ADD's archives are read from the folder
        else:
            if not builder_from:
                root = stack.enter_context(_source_root(builder, ins, plan, built))
            with Root(root) as ctx:
                found = expand(ctx, op) if op.sources else []
                digest = cache.content_digest(ctx, [p for _, p in found]) if found else ""
            root_path = lambda: root  # noqa: E731
        urls = [s for s in sources if _is_url(s)]
        downloads = [stack.enter_context(_download(builder, url)) for url in urls]
        op.check_count(len(found) + len(urls))
        digests = [digest] if digest else []
        for folder, name in downloads:
            with Root(folder) as dl:
                digests.append(cache.content_digest(dl, [(name,)]))
        if len(digests) > 1:
            digests = ["multi:" + cache.key(",".join(digests), {})]
        # docker glues the --chown flag to the digest: "COPY --chown=1:1file:<hash>"
        owner_text = f"--chown={chown}" if chown else ""
        cmd = [*runtime, f"#(nop) {ins.cmd} {owner_text}{digests[0]} in {dest} "]
        extra = f"|chown={chown}|chmod={ins.flags.get('chmod', '')}"

        def change(image: Root) -> None:
            op.owner = resolve_owner(image, chown) if chown else None
            if isinstance(index, TarContext) and ins.cmd == "COPY":
                for name, parts in found:  # straight from the tar: nothing unpacked
                    copy.copy_one(index, image, name, parts, op)
            elif found:
                with Root(root_path()) as ctx:
                    for name, parts in found:
                        if ins.cmd == "ADD" and is_archive(ctx, parts):
                            extract(ctx, parts, image, op)
                        else:
                            copy.copy_one(ctx, image, name, parts, op)
            for folder, name in downloads:
                url_op = Copy(op.cmd, [name], op.dest, op.owner, op.mode)
                with Root(folder) as dl:
                    copy.copy_one(dl, image, name, (name,), url_op)

        def make() -> str:
            ctx_manager = changed(builder.images.snapshots, builder.chain(state), change)
            upper = ctx_manager.__enter__()
            builder._exits.append(ctx_manager)
            return upper

        builder.with_layer(state, cmd, dict(state.runtime), make, extra)


def _heredoc_sources(ins: Instruction, sources: list[str], env: dict[str, str]
                     ) -> dict[str, str]:
    """COPY <<EOF /file: each here-document source's name and content (variables
    expanded unless its marker was quoted, as BuildKit does)."""
    if not ins.heredocs:
        return {}
    docs = {h.name: h for h in ins.heredocs}
    out = {}
    for src in sources:
        name = src.lstrip("<").lstrip("-").strip("\"'")
        if not src.startswith("<<") or name not in docs:
            raise InvalidArgument(f"{ins.cmd} failed: here-documents and files cannot be "
                                  "mixed as sources")
        doc = docs[name]
        out[name] = doc.content if doc.quoted else words.expand_text(doc.content, env)
    return out


@contextmanager
def _heredoc_folder(builder: Builder, docs: dict[str, str]) -> Iterator[str]:
    folder = tempfile.mkdtemp(prefix="build-heredoc-", dir=builder.images.content.tmpdir)
    try:
        for name, content in docs.items():
            path = os.path.join(folder, name)
            with open(path, "x") as f:
                f.write(content)
            os.chmod(path, 0o644)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _mode(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        value = int(text, 8)
    except ValueError:
        raise InvalidArgument(f"invalid chmod parameter: {text}: invalid syntax") from None
    if value > 0o7777:
        raise InvalidArgument(f"invalid chmod parameter: {text}: out of range")
    return value


def _is_url(src: str) -> bool:
    return src.startswith(("http://", "https://"))


@contextmanager
def _source_root(builder: Builder, ins: Instruction, plan: Plan,
                 built: dict[int, State]) -> Iterator[str]:
    """The folder the sources resolve in: the context, or --from's image mounted
    read-only."""
    ref = ins.flags.get("from")
    if not ref:
        yield builder.context
        return
    stage = plan.stage(ref, len(plan.stages))
    if stage is not None:
        if stage.index not in built:
            raise InvalidArgument(f"invalid from flag value {ref}: stage not built")
        config = built[stage.index].config
    else:
        try:
            image_id = builder._image(ref, None)
        except InvalidArgument:
            raise
        except Exception as exc:  # noqa: BLE001 - docker's message names the value
            raise InvalidArgument(f"invalid from flag value {ref}: {exc}") from None
        config = builder.images.config(image_id)
    chain = chain_ids((config.get("rootfs") or {}).get("diff_ids") or [])
    with mounted(builder.images.snapshots, chain) as root:
        yield root


@contextmanager
def mounted(snapshots: Snapshots, chain: list[str]) -> Iterator[str]:
    """An image's root filesystem, read-only, while the block lasts."""
    work = tempfile.mkdtemp(dir=snapshots.dir, prefix=".from-")
    target = os.path.join(work, "root")
    os.mkdir(target)
    mounted_ = False
    try:
        if chain:
            snapshots.mount(chain, target)
            mounted_ = True
        yield target
    finally:
        if mounted_:
            copy._unmount(target)
        shutil.rmtree(work, ignore_errors=True)


@contextmanager
def _download(builder: Builder, url: str) -> Iterator[tuple[str, str]]:
    """ADD's URL fetched into a folder of its own: (folder, file name). As docker: the
    file is 0600, its time the server's Last-Modified."""
    folder = tempfile.mkdtemp(prefix="build-url-", dir=builder.images.content.tmpdir)
    try:
        name = posixpath.basename(urllib.parse.urlparse(url).path.rstrip("/")) or \
            "__unnamed__"
        path = os.path.join(folder, name)
        builder.say(f"Downloading {url}")
        try:
            with urllib.request.urlopen(url, timeout=60) as resp, \
                    open(path, "xb") as out:
                shutil.copyfileobj(resp, out, 1 << 20)
                modified = resp.headers.get("Last-Modified")
        except urllib.error.HTTPError as exc:
            raise InvalidArgument(f"failed to GET {url} with status {exc.code} "
                                  f"{exc.reason}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise InvalidArgument(f"failed to GET {url}: {exc}") from None
        os.chmod(path, 0o600)
        if modified:
            with contextlib.suppress(TypeError, ValueError):
                when = email.utils.parsedate_to_datetime(modified).timestamp()
                os.utime(path, (when, when))
        yield folder, name
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _read_id_file(image: Root, path: str) -> list[list[str]]:
    try:
        where = image.resolve(path)
        fd = image.open_file(where)
    except (OSError, InvalidArgument):
        return []
    try:
        data = os.read(fd, _MAX_ID_FILE)
    finally:
        os.close(fd)
    return [line.split(":") for line in data.decode(errors="replace").splitlines()
            if line and not line.startswith("#")]


def resolve_owner(image: Root, spec: str) -> tuple[int, int]:
    """--chown's user[:group] as ids: numbers as they are, names from the image's
    /etc/passwd and /etc/group (docker's lookups and messages)."""
    user, _, group = spec.partition(":")
    prefix = "unable to convert uid/gid chown string to host mapping: "
    if user.isdigit():
        uid, primary = int(user), int(user)
    else:
        entry = next((e for e in _read_id_file(image, "/etc/passwd")
                      if e[0] == user and len(e) > 3), None)
        if entry is None:
            raise InvalidArgument(f"{prefix}can't find uid for user {user}: no such user: "
                                  f"{user}")
        uid, primary = int(entry[2]), int(entry[3])
    if not group:
        return uid, primary if not user.isdigit() else uid
    if group.isdigit():
        return uid, int(group)
    found = next((e for e in _read_id_file(image, "/etc/group")
                  if e[0] == group and len(e) > 2), None)
    if found is None:
        raise InvalidArgument(f"{prefix}can't find gid for group {group}: no such group: "
                              f"{group}")
    return uid, int(found[2])



def home_of(snapshots: Snapshots, chain: list[str], user: str) -> str:
    """The HOME dockerd gives a container of the image run as user: the user's home in
    the image's /etc/passwd, "/" when it has none."""
    name = user.partition(":")[0] or "root"
    with mounted(snapshots, chain) as root, Root(root) as image:
        for entry in _read_id_file(image, "/etc/passwd"):
            if len(entry) > 5 and (entry[0] == name or (name.isdigit() and entry[2] == name)):
                return entry[5] or "/"
    return "/"
