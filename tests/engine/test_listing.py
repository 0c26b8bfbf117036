"""What the engine lists (`ps`) follows every write of a record at once, though each
record is parsed and summarised once per write; what it hands out is the caller's."""

from __future__ import annotations

from darse.engine.engine import Engine
from tests.engine.test_lifecycle import run


def test_listing_follows_each_write_and_shares_nothing(engine: Engine) -> None:
    cid = run(engine, ["sleep", "60"], name="l1", Labels={"k": "v"})
    first = engine.list()
    assert [(c["Names"], c["State"], c["Labels"]) for c in first] == \
        [(["/l1"], "running", {"k": "v"})]
    assert first[0]["Status"].startswith("Up ")
    first[0]["Names"].append("/mutated")
    first[0]["Labels"]["k"] = "changed"
    first[0]["HostConfig"]["NetworkMode"] = "changed"
    again = engine.list()
    assert (again[0]["Names"], again[0]["Labels"]) == (["/l1"], {"k": "v"})
    assert again[0]["HostConfig"]["NetworkMode"] != "changed"
    engine.rename(cid, "l2")
    assert [c["Names"] for c in engine.list()] == [["/l2"]]
    engine.stop(cid, timeout=1)
    assert engine.list() == []
    stopped = engine.list(all=True)
    assert [(c["State"], c["Status"][:8]) for c in stopped] == [("exited", "Exited (")]
    other = run(engine, ["sleep", "60"], name="l3")
    assert [c["Names"] for c in engine.list(all=True)] == [["/l3"], ["/l2"]]
    engine.remove(cid)
    engine.remove(other, force=True)
    assert engine.list(all=True) == []


def test_listing_encoded_as_its_summaries(engine: Engine) -> None:
    """GET /containers/json's body, joined from each record's encoding kept since its
    last write, is json.dumps of the listing byte for byte, through each state and write."""
    import json
    import time

    from darse.engine.views import summaries, summaries_json

    def same(**kw: object) -> list[dict]:
        now = time.time()
        body = summaries_json(engine, now=now, **kw)
        assert body == json.dumps(summaries(engine, now=now, **kw)).encode()
        return json.loads(body)

    assert same() == [] and same(all=True) == []
    run(engine, ["sleep", "60"], name="e1", Labels={"k": 'vé "q" \\ <>'},
        ExposedPorts={"80/tcp": {}, "53/udp": {}})
    created = engine.create({"Image": "busybox", "Cmd": ["true"]}, name="e2")["Id"]
    run(engine, ["sleep", "60"], name="e3", HostConfig={"Links": ["e1:alias"]},
        Healthcheck={"Test": ["CMD", "true"], "Interval": 60 * 10**9})
    done = run(engine, ["sh", "-c", "exit 3"], name="e4")
    engine.wait(done)
    shown = {c["Names"][0]: c for c in same(all=True)}
    assert shown["/e1"]["Names"] == ["/e1", "/e3/alias"]
    assert shown["/e1"]["Labels"] == {"k": 'vé "q" \\ <>'}
    assert shown["/e1"]["Status"].startswith("Up ")
    assert shown["/e2"]["Status"] == "Created"
    assert shown["/e3"]["Status"].endswith(" (health: starting)")
    assert shown["/e4"]["Status"].startswith("Exited (3) ")
    assert [c["Names"][0] for c in same()] == ["/e3", "/e1"]
    assert [c["Names"][0] for c in same(all=True, limit=2)] == ["/e4", "/e3"]
    assert [c["Names"][0] for c in same(all=True, filters={"status": ["created"]})] == ["/e2"]
    engine.pause("e1")
    assert {c["Names"][0]: c["Status"] for c in same()}["/e1"].endswith(" (Paused)")
    engine.pause("e1", False)
    assert not {c["Names"][0]: c["Status"] for c in same()}["/e1"].endswith(" (Paused)")
    engine.remove(created)
    assert "/e2" not in {c["Names"][0] for c in same(all=True)}
