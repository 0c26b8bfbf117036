"""An attach whose darse-shim died under it, taken up again on the next shim (which took
the container back, darse/shim/adopt.py): `docker attach` and a foreground `docker run`
go on instead of ending while their container still runs. What the container wrote in
between is in its log; what the client typed in between is lost."""

from __future__ import annotations

import asyncio
import json
from typing import Any

REATTACH_WITHIN = 15.0  # seconds for a new shim to answer (the keeper starts it at once)


async def reattach(engine: Any, request: dict[str, Any], shim: dict[str, Any],
                   again: bool = True) -> bool:
    """The same attach on the shim now running; shim's reader and writer replaced. False
    for an exec (docker has no re-attach of an exec; its end still reaches its record).
    again: the attach had begun (its container started); else it is asked as it was."""
    if request.get("op") != "attach":
        return False
    loop = asyncio.get_running_loop()
    deadline = loop.time() + REATTACH_WITHIN
    if again:
        request = {**request, "wait_start": False}
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
