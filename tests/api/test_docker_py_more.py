"""docker-py 7 (API 1.41, as its integration tests use it) over the endpoints this
module's features added: archives, changes, commit, update, stats, df, swarm leave."""

from __future__ import annotations

import io
import tarfile

import docker as dockerpy
import pytest

from tests.daemon import Darsed


@pytest.fixture
def client(darsed: Darsed):  # noqa: ANN201
    c = dockerpy.DockerClient(base_url=darsed.host, version="1.41")
    yield c
    c.close()


def test_files_images_resources(client) -> None:  # noqa: ANN001
    api = client.api
    ct = client.containers.run("busybox", "sleep 1000", detach=True, name="dp")
    try:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tf:
            ti = tarfile.TarInfo("hello.txt")
            ti.size = 9
            tf.addfile(ti, io.BytesIO(b"hi there\n"))
        assert ct.put_archive("/tmp", buf.getvalue()) is True
        strm, stat = ct.get_archive("/tmp/hello.txt")
        assert (stat["name"], stat["size"], stat["mode"]) == ("hello.txt", 9, 0o644)
        with tarfile.open(fileobj=io.BytesIO(b"".join(strm))) as tf:
            assert tf.extractfile("hello.txt").read() == b"hi there\n"
        with pytest.raises(dockerpy.errors.NotFound):
            ct.get_archive("/nope")
        assert api.diff(ct.id) == [{"Path": "/tmp", "Kind": 0},
                                   {"Path": "/tmp/hello.txt", "Kind": 1}]
        img = ct.commit("dpimg", "v1", message="m", author="a",
                        changes=["CMD cat /tmp/hello.txt"])
        assert client.containers.run(img.id, remove=True) == b"hi there\n"
        assert api.update_container(ct.id, mem_limit="64m", memswap_limit="128m",
                                    restart_policy={"Name": "always"}) == {"Warnings": None}
        ct.reload()
        assert ct.attrs["HostConfig"]["RestartPolicy"]["Name"] == "always"
        one = api.stats(ct.id, stream=False)
        assert one["memory_stats"]["limit"] == 64 << 20 and one["pids_stats"]["current"] == 1
        stream = api.stats(ct.id, decode=True)
        first, second = next(stream), next(stream)
        assert second["preread"] == first["read"]
        df = api.df()
        assert df["LayersSize"] > 0 and any(i["Id"] == img.id for i in df["Images"])
        assert api.leave_swarm(force=True) is True  # docker-py takes the 503 as "not in one"
        ct.kill()
        ct.reload()
        assert ct.status == "exited"  # kill is back once the container is dead
        client.images.remove(img.id)
    finally:
        ct.remove(force=True)
