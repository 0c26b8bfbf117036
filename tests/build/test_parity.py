"""Real Dockerfiles, case by case, built by darse and by docker's classic builder: the
same config, history, layer count and files (modes, owners, links)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.build.compare import Engine, same_image
from tests.build.conftest import Dockerd
from tests.daemon import Darsed


@pytest.fixture(scope="module")
def engines(darsed: Darsed, dockerd: Dockerd | None):
    return Engine("darse", darsed), (Engine("docker", dockerd) if dockerd else None)


def make_context(tmp_path: Path, dockerfile: str) -> Path:
    ctx = tmp_path / "ctx"
    (ctx / "sub/deep").mkdir(parents=True)
    (ctx / "Dockerfile").write_text(dockerfile)
    (ctx / "f").write_text("F\n")
    (ctx / "g.txt").write_text("G\n")
    (ctx / "h.txt").write_text("H\n")
    (ctx / "sub/s").write_text("S\n")
    (ctx / "sub/deep/d").write_text("D\n")
    os.chmod(ctx / "sub", 0o700)
    os.chmod(ctx / "sub/deep", 0o750)
    os.chmod(ctx / "f", 0o640)
    os.link(ctx / "sub/s", ctx / "sub/hard")
    (ctx / "sub/link").symlink_to("s")
    return ctx


CASES = {
    "env-and-args": """\
FROM busybox
ARG A=1
ARG B
ENV E=$A F='$A' G="x $A" H=${B:-dflt} I=${A:+alt}
ENV LEGACY value with spaces
RUN echo "$E $F $G $H $I $LEGACY" > /vars
""",
    "config-instructions": """\
FROM busybox
LABEL a=b "c d"="e f"
LABEL version=1
EXPOSE 80 90-92/udp 443/tcp
VOLUME /data /logs
VOLUME ["/j"]
USER nobody
WORKDIR a/../b
WORKDIR c
STOPSIGNAL SIGTERM
ONBUILD run echo hi
MAINTAINER someone
HEALTHCHECK --interval=5s --timeout=2s --retries=3 CMD wget -q localhost || exit 1
SHELL ["/bin/sh", "-xc"]
ENTRYPOINT ["/bin/echo"]
""",
    "cmd-then-entrypoint": """\
FROM busybox
CMD echo one
ENTRYPOINT echo two
""",
    "entrypoint-resets-inherited-cmd": """\
FROM busybox
ENTRYPOINT ["/bin/echo"]
""",
    "healthcheck-none-and-exec": """\
FROM busybox
HEALTHCHECK CMD ["true"]
HEALTHCHECK NONE
""",
    "copy-details": """\
FROM busybox
RUN mkdir -p /existing && chmod 700 /existing && ln -s /real /linkdir && mkdir /real
COPY f /existing/
COPY g.txt /existing
COPY sub /existing
COPY sub /new/
COPY *.txt /txt/
COPY f /linkdir/
COPY ["f", "/with space/"]
COPY --chown=nobody:nogroup f /owned
COPY --chown=1:1 sub /owned-dir/
""",
    "escape-directive": """\
# escape=`
FROM busybox
RUN echo a `
    b > /x
""",
    "continuations": """\
FROM busybox
RUN echo one \\

    two \\
# a comment
    three > /x
""",
    "run-forms": """\
FROM busybox
SHELL ["/bin/sh", "-c"]
RUN ["/bin/sh", "-c", "echo exec > /e"]
RUN true
USER nobody
RUN echo $HOME > /tmp/home
""",
    "scratch": """\
FROM scratch
COPY f /f
""",
    "add-archives": """\
FROM busybox
ADD plain.tar /plain/
ADD gz.tar.gz /gz
ADD bz.tar.bz2 /bz/
ADD xz.tar.xz /xz/
ADD notatar.gz /notatar/
ADD f /added
""",
    "onbuild-triggers": """\
FROM busybox AS base
ONBUILD RUN echo triggered > /t
ONBUILD COPY f /onbuild-f
FROM base
RUN cat /t /onbuild-f
""",
    "whiteouts": """\
FROM busybox
RUN mkdir -p /d/sub && echo x > /d/sub/x && echo y > /d/y && echo z > /z
RUN rm -r /d/sub /z && rm /bin/ed
RUN rm -r /d && mkdir /d && echo new > /d/new
RUN chmod 700 /etc
RUN true
""",
    "wildcards-and-dirs": """\
FROM busybox
COPY s* /w1/
COPY ?.txt /w2/
COPY [gh].txt sub/de* /w3/
COPY sub/ /w4
""",
}


def _archives(ctx: Path) -> None:
    import tarfile

    src = ctx / "arch"
    (src / "dir").mkdir(parents=True)
    (src / "dir/file").write_text("in archive\n")
    (src / "dir/.wh.kept").write_text("a plain file in an archive\n")
    (src / "link").symlink_to("dir/file")
    os.chmod(src / "dir/file", 0o604)
    for name, mode in (("plain.tar", "w"), ("gz.tar.gz", "w:gz"), ("bz.tar.bz2", "w:bz2"),
                       ("xz.tar.xz", "w:xz")):
        with tarfile.open(ctx / name, mode) as tf:
            tf.add(src / "dir", arcname="dir")
            tf.add(src / "link", arcname="link")
            info = tf.gettarinfo(src / "dir/file", arcname="owned")
            info.uid, info.gid, info.uname, info.gname = 123, 456, "", ""
            with open(src / "dir/file", "rb") as f:
                tf.addfile(info, f)
    (ctx / "notatar.gz").write_bytes(b"\x1f\x8b not really gzip")
    import shutil

    shutil.rmtree(src)


@pytest.mark.parametrize("name", sorted(CASES))
def test_same_image_as_docker(engines, tmp_path: Path, name: str) -> None:
    darse, docker = engines
    ctx = make_context(tmp_path, CASES[name])
    if name == "add-archives":
        _archives(ctx)
    image = same_image(darse, docker, ctx, "--no-cache", files=name != "scratch")
    darse.rmi(image["id"])
