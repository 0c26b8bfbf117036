"""Docker's output conventions: tab-aligned tables, short ids, human sizes and times."""

from __future__ import annotations

import sys
import time

from darse.cli import fastjson as json
from darse.cli.template import Template, go_format
from darse.units import human_duration

TYPE_CHECKING = False  # typing costs milliseconds on every command
if TYPE_CHECKING:
    from typing import Any


def ago(unix_ts: float) -> str:
    return human_duration(time.time() - unix_ts) + " ago"


def short(id_: str) -> str:
    return id_.split(":", 1)[-1][:12]


def table(rows: list[list[str]], out: Any = None, min_width: int = 10) -> None:
    """text/tabwriter as docker's formatter sets it (min width 10, padding 3; `top` asks
    for 20): every column but the last is padded."""
    out = out or sys.stdout
    if not rows:
        return
    widths = [max(max(len(r[i]) for r in rows if i < len(r)) + 3, min_width)
              for i in range(len(rows[0]))]
    for r in rows:
        cells = [c.ljust(widths[i]) if i < len(r) - 1 else c for i, c in enumerate(r)]
        out.write("".join(cells).rstrip() + "\n")


def render(fmt: str | None, default_columns: list[tuple[str, str]], items: list[dict[str, Any]],
           quiet_key: str | None = None, quiet: bool = False) -> None:
    """Print items as docker does: -q ids, --format (table or not, json), or the table."""
    if quiet and quiet_key:
        for item in items:
            print(item[quiet_key])
        return
    if fmt == "json":
        for item in items:
            print(json.dumps(item, (",", ":")))
        return
    if fmt and not fmt.startswith("table"):
        tmpl = Template(fmt.replace("\\t", "\t").replace("\\n", "\n"))
        for item in items:
            print(tmpl.render(item))
        return
    if fmt:  # table {{.A}}\t{{.B}}
        body = fmt[len("table"):].strip().replace("\\t", "\t")
        tmpl = Template(body)
        header = [h.strip("{}. ").split(".")[-1] for h in body.split("\t")]
        titles = {k: v for v, k in default_columns}
        rows = [[titles.get(h, h.upper()) for h in header]]
        rows += [tmpl.render(item).split("\t") for item in items]
    else:
        rows = [[title for title, _ in default_columns]]
        rows += [[go_format(item.get(key), False) if not isinstance(item.get(key), str)
                  else item[key] for _, key in default_columns] for item in items]
    table(rows)
