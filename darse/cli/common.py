"""What several command families do the same way: --filter, the prune confirmation and
report, a verb applied to each named object, inspect of each named object."""

from __future__ import annotations

import sys

from darse.cli import fastjson as json
from darse.cli.client import APIError, Client

TYPE_CHECKING = False  # typing costs milliseconds on every command
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from darse.cli.template import Template


def filters(items: list[str]) -> dict[str, list[str]]:
    """-f key=value ... as the API's filters object."""
    out: dict[str, list[str]] = {}
    for item in items:
        key, _, value = item.partition("=")
        out.setdefault(key, []).append(value)
    return out


def filters_query(items: list[str]) -> str | None:
    f = filters(items)
    return json.dumps(f) if f else None


def confirm(warning: str) -> bool:
    answer = input(f"WARNING! {warning}\nAre you sure you want to continue? [y/N] ")
    return answer.lower() in ("y", "yes")


def print_pruned(title: str, lines: list[str], space: int | None) -> None:
    """docker's prune report: what went, then (but for networks) the space it freed."""
    from darse.units import human_size

    if lines:
        print(f"Deleted {title}:")
        for line in lines:
            print(line)
        print()
    if space is not None:
        print(f"Total reclaimed space: {human_size(space, 4)}")  # go-units' HumanSize


def done(response: Any) -> None:
    """Read a response to its end and give nothing back (each() then prints the name)."""
    response.read()


def each(names: list[str], call: Callable[[str], Any], echo: bool = True) -> int:
    """call(name) for each; docker prints each name done, and goes on after an error."""
    code = 0
    for name in names:
        try:
            result = call(name)
            if echo:
                print(name if result is None else result)
        except APIError as exc:  # status 0: no answer from the daemon, nothing to quote
            print(exc.shown, file=sys.stderr)
            code = 1
    return code


def render_each(tmpl: Template, items: list[tuple[Any, str | None]]) -> bool:
    """Each inspected object through --format; a template that fails on one prints
    nothing but the docker CLI's empty line and its error."""
    from darse.errors import InvalidArgument

    try:
        lines = [tmpl.render(obj, root) for obj, root in items]
    except InvalidArgument as exc:
        print()
        print(f"template parsing error: {exc}", file=sys.stderr)
        return False
    for line in lines:
        print(line)
    return True


def inspect_each(client: Client, names: list[str], path: str, fmt: str | None,
                 root: str | None = None) -> int:
    """`... inspect`: a JSON array (indent 4), or one --format line per object."""
    found: list[Any] = []
    errors: list[str] = []
    for name in names:
        try:
            found.append(client.json("GET", path.format(name)))
        except APIError as exc:
            errors.append(exc.shown)
    rendered = True
    if fmt:
        from darse.cli.template import Template  # with darse.errors: 0.7 ms of rm, stop

        rendered = render_each(Template(fmt), [(obj, root) for obj in found])
        if rendered and not found:
            print()  # the docker CLI's template inspector never writes nothing
    else:
        print(json.dumps(found, indent=4))
    for line in errors:  # after the output, as the docker CLI
        print(line, file=sys.stderr)
    return 1 if errors or not rendered else 0


def timestamp(value: str) -> str:
    """--since/--until as the docker CLI sends them (its GetTimestamp): a Go duration
    before now, an RFC 3339 date or time (local when it names no zone), or unix seconds
    kept as they are. ValueError in its words."""
    import datetime
    import time

    from darse.cli.run_flags import go_duration

    if value != "0":
        try:
            return str(int(time.time() - go_duration(value) / 1e9))
        except ValueError:
            pass
    text = value.replace("z", "Z")
    zoned = "Z" in text or "+" in text or text.count("-") == 3
    if "T" not in text and "-" in text and not zoned:
        text += "T00:00:00"
    try:
        parsed = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        parsed = None
    if parsed is not None:
        if parsed.tzinfo is None:
            parsed = parsed.astimezone()
        ns = round(parsed.timestamp() % 1 * 1e9)
        return f"{int(parsed.timestamp())}.{ns:09d}"
    whole, _, frac = value.partition(".")
    if whole.lstrip("-").isdigit() and (not frac or frac.isdigit()):
        return value
    raise ValueError(f'failed to parse value as time or duration: "{value}"')
