"""An attach whose darse-shim died under it, taken up again on the next shim (which took
the container and its execs back, darse/shim/adopt.py): `docker attach`, a foreground
`docker run` and an attached `docker exec` go on instead of ending while their process
still runs. What the container wrote in between is in its log (an exec's is lost); what
the client typed in between is lost."""

from __future__ import annotations

import asyncio
import json
from typing import Any

REATTACH_WITHIN = 15.0  # seconds for a new shim to answer (the keeper starts it at once)


async def reattach(engine: Any, request: dict[str, Any], shim: dict[str, Any],
                   again: bool = True) -> bool:
    """The same attach (or an attach to the same exec) on the shim now running; shim's
    reader and writer replaced. False when the process is no longer there (an exec
    ended meanwhile: its end reaches its record). again: the attach had begun (its
    container started); else it is asked as it was."""
    if request.get("op") == "exec":
        if not again:
            return False  # the exec may not have started: not run twice
        request = {"op": "attach", "id": f"{request['id']}/{request['exec_id']}",
                   "stdin": request.get("stdin"), "known": True}
    elif request.get("op") != "attach":
        return False
    elif again:
        request = {**request, "wait_start": False, "known": True}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + REATTACH_WITHIN
    while loop.time() < deadline:
        await asyncio.sleep(0.1)
        try:
            reader, writer = await asyncio.open_unix_connection(engine.shim.path)
        except OSError:
            continue
        try:
            writer.write((json.dumps(request) + "\n").encode())
            reply = json.loads(await reader.readline())
        except (OSError, ValueError):
            writer.close()
            continue
        if not reply.get("ok"):
            writer.close()
            return False
        shim["writer"].close()
        shim.update(reader=reader, writer=writer)
        return True
    return False
