"""The predefined networks' drivers as dockerd names them: bridge, host, and "null" for
none (docker network ls shows DRIVER null; --filter driver=null finds it); a record an
older darse wrote with "none" is mended at darsed's start."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3

from tests.daemon import new_daemon


def test_none_network_driver_is_null() -> None:
    d = new_daemon()
    try:
        d.start()
        done = d.docker("network", "ls", "--format", "{{.Name}} {{.Driver}}")
        assert sorted(done.stdout.split("\n")[:-1]) == ["bridge bridge", "host host",
                                                        "none null"], done.stderr
        done = d.docker("network", "ls", "--filter", "driver=null", "--format", "{{.Name}}")
        assert done.stdout == "none\n", done.stderr
        d.kill()
        db = sqlite3.connect(os.path.join(d.data_root, "state.db"))
        doc = json.loads(db.execute("SELECT doc FROM networks WHERE name='none'").fetchone()[0])
        doc["Driver"] = "none"
        db.execute("UPDATE networks SET doc=? WHERE name='none'", (json.dumps(doc),))
        db.commit()
        db.close()
        d.start()
        status, out = d.api("GET", "/networks/none")
        assert status == 200 and json.loads(out)["Driver"] == "null"
    finally:
        d.stop()
        shutil.rmtree(d.base, ignore_errors=True)
