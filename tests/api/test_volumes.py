"""The seed's volume chapter, through darse's CLI and through the docker CLI."""

from __future__ import annotations

import json
import os
import shutil
import tarfile
import tempfile

import pytest

from tests.cli.test_cli import darse
from tests.daemon import Darsed


@pytest.fixture(scope="module")
def nginx_like(darsed: Darsed, busybox_rootfs: str) -> str:
    """busybox plus /usr/share/nginx/html/index.html: what the seed's nginx brings."""
    work = tempfile.mkdtemp()
    try:
        root = os.path.join(work, "rootfs")
        shutil.copytree(busybox_rootfs, root, symlinks=True)
        os.makedirs(os.path.join(root, "usr/share/nginx/html"))
        with open(os.path.join(root, "usr/share/nginx/html/index.html"), "w") as f:
            f.write("<h1>Welcome to nginx!</h1>\n")
        os.chown(os.path.join(root, "usr/share/nginx/html/index.html"), 101, 101)
        tar_path = os.path.join(work, "nginx.tar")
        with tarfile.open(tar_path, "w") as tf:
            for name in sorted(os.listdir(root)):
                tf.add(os.path.join(root, name), arcname=name)
        done = darse(darsed, "import", "--change", 'CMD ["sleep", "1000"]', tar_path,
                     "nginx:latest")
        assert done.returncode == 0, done.stderr
    finally:
        shutil.rmtree(work)
    return "nginx:latest"


def ok(d: Darsed, *args: str) -> str:
    done = darse(d, *args)
    assert done.returncode == 0, f"darse {' '.join(args)}: {done.stderr}"
    return done.stdout


def test_named_volume_shared_and_protected(darsed: Darsed, nginx_like: str) -> None:
    assert ok(darsed, "volume", "create", "mynginx") == "mynginx\n"
    assert ok(darsed, "volume", "ls").splitlines() == ["DRIVER    VOLUME NAME",
                                                      "local     mynginx"]
    ok(darsed, "run", "-d", "--name", "c1", "-v", "mynginx:/usr/share/nginx/html", nginx_like)
    # Filled from the image on first use, owners kept.
    assert ok(darsed, "exec", "c1", "ls", "/usr/share/nginx/html") == "index.html\n"
    info = json.loads(ok(darsed, "volume", "inspect", "mynginx"))[0]
    assert info["Driver"] == "local" and info["Scope"] == "local"
    data = info["Mountpoint"]
    assert data.endswith("/volumes/mynginx/_data")
    assert os.stat(os.path.join(data, "index.html")).st_uid == 101
    # c2 sees c1's files and c1 sees c2's writes.
    out = ok(darsed, "run", "--rm", "-v", "mynginx:/data", nginx_like, "sh", "-c",
             "ls /data; echo from-c2 > /data/new.html")
    assert out == "index.html\n"
    assert ok(darsed, "exec", "c1", "cat", "/usr/share/nginx/html/new.html") == "from-c2\n"
    assert open(os.path.join(data, "new.html")).read() == "from-c2\n"
    refused = darse(darsed, "volume", "rm", "mynginx")
    assert refused.returncode == 1
    assert "remove mynginx: volume is in use - [" in refused.stderr
    ok(darsed, "stop", "-t", "1", "c1")
    assert "volume is in use" in darse(darsed, "volume", "rm", "mynginx").stderr
    ok(darsed, "rm", "c1")
    assert os.path.exists(os.path.join(data, "new.html"))  # data outlives its containers
    assert ok(darsed, "volume", "rm", "mynginx") == "mynginx\n"
    assert not os.path.exists(data)


def test_bind_mount_and_inspect_format(darsed: Darsed, nginx_like: str, tmp_path) -> None:
    host = tmp_path / "data"
    host.mkdir()
    (host / "page.html").write_text("from the host\n")
    ok(darsed, "run", "-d", "--name", "b1", "--mount",
       f"type=bind,source={host}/,destination=/usr/share/nginx/html/", nginx_like)
    # A bind hides what the image has there, and is never copied into.
    assert ok(darsed, "exec", "b1", "ls", "/usr/share/nginx/html") == "page.html\n"
    assert ok(darsed, "inspect", "--format", "{{.Mounts}}", "b1") == \
        f"[{{bind  {host} /usr/share/nginx/html   true rprivate}}]\n"
    mount = json.loads(ok(darsed, "inspect", "b1"))[0]["Mounts"][0]
    assert mount == {"Type": "bind", "Source": str(host), "Destination":
                     "/usr/share/nginx/html", "Mode": "", "RW": True, "Propagation": "rprivate"}
    ok(darsed, "rm", "-f", "b1")
    ro = darse(darsed, "run", "--rm", "-v", f"{host}:/d:ro", nginx_like, "touch", "/d/x")
    assert ro.returncode == 1 and "Read-only file system" in ro.stderr
    created = tmp_path / "made-by-v"
    ok(darsed, "run", "--rm", "-v", f"{created}:/d", nginx_like, "true")
    assert created.is_dir()  # -v makes a missing host path, as docker does


def test_tmpfs_is_memory_only(darsed: Darsed, nginx_like: str) -> None:
    for _ in range(2):  # a new container starts empty
        out = ok(darsed, "run", "--rm", "--mount",
                 "type=tmpfs,destination=/usr/share/nginx/html", nginx_like, "sh", "-c",
                 "ls /usr/share/nginx/html | wc -l; echo toto > /usr/share/nginx/html/i; "
                 "cat /usr/share/nginx/html/i; grep ' /usr/share/nginx/html ' /proc/mounts")
        lines = out.splitlines()
        assert lines[0] == "0" and lines[1] == "toto" and lines[2].startswith("tmpfs ")
    out = ok(darsed, "run", "--rm", "--tmpfs", "/scratch:size=1m", nginx_like, "sh", "-c",
             "grep ' /scratch ' /proc/mounts")
    assert "size=1024k" in out


def test_anonymous_volumes_and_rm_v(darsed: Darsed, nginx_like: str) -> None:
    ok(darsed, "run", "--name", "anon", "-v", "/usr/share/nginx/html", nginx_like, "true")
    mounts = json.loads(ok(darsed, "inspect", "anon"))[0]["Mounts"]
    assert mounts[0]["Type"] == "volume" and len(mounts[0]["Name"]) == 64
    assert mounts[0]["Name"] in ok(darsed, "volume", "ls", "-q")
    ok(darsed, "rm", "-v", "anon")
    assert mounts[0]["Name"] not in ok(darsed, "volume", "ls", "-q")


def test_volumes_from(darsed: Darsed, nginx_like: str) -> None:
    ok(darsed, "run", "-d", "--name", "src1", "-v", "shared1:/shared", nginx_like)
    out = ok(darsed, "run", "--rm", "--volumes-from", "src1:ro", nginx_like, "sh", "-c",
             "grep ' /shared ' /proc/mounts")
    assert " ro," in out
    ok(darsed, "rm", "-f", "src1")
    ok(darsed, "volume", "rm", "shared1")


@pytest.mark.parametrize(("args", "message"), [
    (["-v", "a:b:c:d"], "invalid volume specification: 'a:b:c:d'"),
    (["-v", "/x:/y:bogus"], "invalid mode: bogus"),
    (["-v", "vol:relative"], "mount path must be absolute"),
    (["--mount", "type=bind,source=/nonexistent-darse,target=/x"],
     "bind source path does not exist: /nonexistent-darse"),
    (["--mount", "type=bind,target=/x"], "field Source must not be empty"),
    (["--mount", "type=volume"], "field Target must not be empty"),
    (["--mount", "foo"], "invalid field 'foo' must be a key=value pair"),
    (["--mount", "type=bind,colour=red"], "unexpected key 'colour' in 'colour=red'"),
    (["-v", "v1:/a", "-v", "v2:/a"], "Duplicate mount point: /a"),
    (["-v", "bad/name:/x"], "includes invalid characters for a local volume name"),
])
def test_bad_mounts_leave_nothing(darsed: Darsed, nginx_like: str, args: list[str],
                                  message: str) -> None:
    before_vols = ok(darsed, "volume", "ls", "-q")
    done = darse(darsed, "run", "--name", "badmount", *args, nginx_like, "true")
    assert done.returncode == 125 and message in done.stderr
    assert ok(darsed, "ps", "-aq") == ""
    assert ok(darsed, "volume", "ls", "-q") == before_vols


def test_docker_cli_mounts(docker: Darsed, nginx_like: str, tmp_path) -> None:
    host = tmp_path / "d"
    host.mkdir()
    done = docker.docker("run", "-d", "--name", "dk1", "--mount",
                         f"type=bind,source={host},target=/usr/share/nginx/html",
                         "-v", "dkvol:/data", nginx_like)
    assert done.returncode == 0, done.stderr
    fmt = docker.docker("inspect", "--format", "{{.Mounts}}", "dk1").stdout
    assert f"{{bind  {host} /usr/share/nginx/html   true rprivate}}" in fmt
    assert "{volume dkvol " in fmt
    assert docker.docker("volume", "rm", "dkvol").returncode == 1
    docker.docker("rm", "-f", "dk1")
    assert docker.docker("volume", "rm", "dkvol").stdout == "dkvol\n"


def test_prune_keeps_named_and_used_volumes(darsed: Darsed, nginx_like: str) -> None:
    ok(darsed, "volume", "create", "keepme")
    ok(darsed, "run", "--rm", "-v", "keepme:/k", nginx_like, "sh", "-c", "echo v > /k/f")
    ok(darsed, "run", "-d", "--name", "user1", "-v", "inuse:/u", nginx_like)
    anon = ok(darsed, "volume", "create").strip()
    out = ok(darsed, "volume", "prune", "-f")
    assert anon in out and "keepme" not in out and "inuse" not in out
    assert ok(darsed, "run", "--rm", "-v", "keepme:/k", nginx_like, "cat", "/k/f") == "v\n"
    ok(darsed, "rm", "-f", "user1")
    assert "keepme" in ok(darsed, "volume", "prune", "-f", "-a")
    assert ok(darsed, "volume", "ls", "-q") == ""


def test_local_driver_options_mount_on_use(darsed: Darsed, nginx_like: str) -> None:
    ok(darsed, "volume", "create", "-d", "local", "-o", "type=tmpfs", "-o", "device=tmpfs",
       "-o", "o=size=2m", "--label", "kind=scratch", "tvol")
    info = json.loads(ok(darsed, "volume", "inspect", "tvol"))[0]
    assert info["Options"] == {"type": "tmpfs", "device": "tmpfs", "o": "size=2m"}
    assert info["Labels"] == {"kind": "scratch"}
    out = ok(darsed, "run", "--rm", "-v", "tvol:/t", nginx_like, "sh", "-c",
             "grep ' /t ' /proc/mounts")
    assert out.startswith("tmpfs /t tmpfs") and "size=2048k" in out
    assert not os.path.ismount(info["Mountpoint"])  # let go when its last user stopped
    assert ok(darsed, "volume", "ls", "-q", "--filter", "label=kind=scratch") == "tvol\n"
    ok(darsed, "volume", "rm", "tvol")


def test_failed_run_keeps_the_volume(darsed: Darsed, nginx_like: str) -> None:
    ok(darsed, "run", "--rm", "-v", "precious:/p", nginx_like, "sh", "-c", "echo 1 > /p/f")
    bad = darse(darsed, "run", "--rm", "-v", "precious:/p", nginx_like, "nosuchcommand")
    assert bad.returncode == 127
    bad = darse(darsed, "run", "--rm", "-v", "precious:/p", "-u", "ghost", nginx_like, "true")
    assert bad.returncode != 0
    assert ok(darsed, "run", "--rm", "-v", "precious:/p", nginx_like, "cat", "/p/f") == "1\n"
    ok(darsed, "volume", "rm", "precious")
