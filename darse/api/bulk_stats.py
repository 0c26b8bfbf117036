"""GET /containers/stats: darse's own endpoint beside Docker's API, what `darse stats
--no-stream` asks: every container's figures in one request.

Docker's API has a request per container (GET /containers/{id}/stats, kept as it is for
the docker CLI); for 1000 containers that is 1000 requests, each reading 14 files twice,
over a second of the daemon's CPU before any waiting. Here the CPU time of all is read,
then the other figures the columns of `docker stats` show, then once the window of
stream=false has passed (the per-container endpoint's) the CPU time again: an array of
Docker's stats objects, in the order `ps` lists the containers, each holding the figures
the columns read (docs/design.md).

Query: all (the stopped ones too, as ps -a), containers (a name or id, repeated: those,
in that order, instead of the listing), one-shot (one reading, no CPU delta).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import web

from darse.api.resources import NO_STREAM_INTERVAL
from darse.api.server import Routes, call, engine_of, json_response, query_bool
from darse.engine import stats as samples
from darse.engine.engine import Engine


def routes(r: Routes) -> None:
    r.add_get("/containers/stats", stats_all)


def _docs(engine: Engine, refs: list[str], all: bool) -> list[dict[str, Any]]:
    """The containers asked for (an unknown one refused in dockerd's words), or those
    `ps` (-a) lists, newest first."""
    from darse.engine.views import listing

    if refs:
        return [engine.containers.find(ref) for ref in refs]
    return [entry.doc for entry in listing(engine, all, None, -1)[1]]


def _first(engine: Engine, docs: list[dict[str, Any]]) -> list[tuple[dict, dict]]:
    """The CPU time of all, then the other figures: the second reading of the CPU time,
    as quick, comes as long after the first for each container."""
    cpu = [samples.cpu_reading(engine, doc) for doc in docs]
    return list(zip(cpu, [samples.column_figures(engine, doc) for doc in docs], strict=True))


def _last(engine: Engine, docs: list[dict[str, Any]],
          first: list[tuple[dict, dict]]) -> list[dict[str, Any]]:
    current = {entry.doc["Id"]: entry.doc for entry in engine.containers.listed()}
    out = []
    for doc, (cpu, figures) in zip(docs, first, strict=True):
        if cpu["read"] == samples.ZERO_TIME:  # not running: dockerd's zeroes, as they are
            out.append(cpu)
            continue
        again = samples.cpu_reading(engine, current.get(doc["Id"], doc))
        if again["read"] != samples.ZERO_TIME:  # stopped meanwhile: zeroes after a reading
            again.update(figures)
        out.append(samples.with_previous(again, cpu))
    return out


async def stats_all(request: web.Request) -> web.Response:
    engine = engine_of(request)
    docs = await call(_docs, engine, request.query.getall("containers", []),
                      query_bool(request, "all"))
    started = time.monotonic()
    first = await call(_first, engine, docs)
    if query_bool(request, "one-shot"):
        return json_response([cpu | figures for cpu, figures in first])
    # The other figures were read within the window, which is waited once for all.
    await asyncio.sleep(max(0.0, NO_STREAM_INTERVAL - (time.monotonic() - started)))
    return json_response(await call(_last, engine, docs, first))
