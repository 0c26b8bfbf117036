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
