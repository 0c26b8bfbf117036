"""A legacy link is a name of the linked container, as dockerd lists it: GET
/containers/json gives the linked container's Names with "/parent/alias" beside
"/child", sorted as dockerd's name index gives them (checked on a private dockerd
20.10), until the link goes (rm --link, or the linking container removed)."""

from __future__ import annotations

import json

from tests.daemon import Darsed


def names(d: Darsed) -> dict[str, list[str]]:
    status, out = d.api("GET", "/containers/json?all=1")
    assert status == 200, out
    # keyed by the own name: the one without a parent (as the docker CLI picks it)
    return {next(n for n in c["Names"] if n.count("/") == 1): c["Names"]
            for c in json.loads(out)}


def test_link_names_listed(docker: Darsed) -> None:
    for args in (("--name", "lnka"), ("--name", "lnkb", "--link", "lnka:al"),
                 ("--name", "lnkc", "--link", "lnka"), ("--name", "alnk", "--link", "lnka:x")):
        done = docker.docker("run", "-d", *args, "busybox", "sleep", "100")
        assert done.returncode == 0, done.stderr
    try:
        listed = names(docker)
        assert listed["/lnka"] == ["/alnk/x", "/lnka", "/lnkb/al", "/lnkc/lnka"]
        assert listed["/lnkb"] == ["/lnkb"]
        ps = docker.docker("ps", "--format", "{{.Names}}", "--filter", "name=lnka")
        assert ps.stdout.split() == ["lnka"]  # the docker CLI shows the own name only
        status, out = docker.api("DELETE", "/containers/lnkb/al?link=1")
        assert status == 204, out
        assert names(docker)["/lnka"] == ["/alnk/x", "/lnka", "/lnkc/lnka"]
        assert docker.docker("rm", "-f", "lnkc", "alnk").returncode == 0
        assert "/lnka" in names(docker) and names(docker)["/lnka"] == ["/lnka"]
    finally:
        docker.docker("rm", "-f", "lnka", "lnkb", "lnkc", "alnk")
