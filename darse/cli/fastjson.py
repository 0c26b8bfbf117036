"""JSON for the CLI's hot path, straight on the interpreter's C scanner and encoder.

`import json` costs 5 ms of every command (json.decoder pulls in re, and re enum), a third
of what `docker ps` takes in all; the C parts it wraps need neither. Same results as
json.loads/json.dumps (ensure_ascii, separators as given); errors are json's
JSONDecodeError (a ValueError), made by the json package only when one happens.
"""

from __future__ import annotations

import _json

TYPE_CHECKING = False  # typing costs milliseconds on every command
if TYPE_CHECKING:
    from typing import Any

_CONSTANTS = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}
_WHITESPACE = " \t\n\r"


class _Context:
    """What the C scanner reads from json.JSONDecoder."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = _CONSTANTS.__getitem__
    memo: dict = {}


_scan = _json.make_scanner(_Context())


def _error(message: str, doc: str, pos: int) -> ValueError:
    from json import JSONDecodeError

    return JSONDecodeError(message, doc, pos)


def loads(data: str | bytes | bytearray) -> Any:
    text = data.decode() if isinstance(data, (bytes, bytearray)) else data
    if text.startswith("\ufeff"):
        raise _error("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
    start = len(text) - len(text.lstrip(_WHITESPACE))
    try:
        obj, end = _scan(text, start)
    except StopIteration as exc:
        raise _error("Expecting value", text, exc.value) from None
    if end < len(text.rstrip(_WHITESPACE)):
        rest = text[end:]
        raise _error("Extra data", text, end + len(rest) - len(rest.lstrip(_WHITESPACE)))
    return obj


def _default(obj: Any) -> Any:
    raise TypeError(f"Object of type {obj.__class__.__name__} is not JSON serializable")


def _float(value: float) -> str:
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    return float.__repr__(value)


_encoders: dict[tuple[str, str], Any] = {}


def dumps(obj: Any, separators: tuple[str, str] = (", ", ": "),
          indent: int | str | None = None) -> str:
    """json.dumps(obj, separators=..., indent=...), ensure_ascii as json's default."""
    if indent is not None:
        out: list[str] = []
        _pretty(obj, indent if isinstance(indent, str) else " " * indent, "\n", out)
        return "".join(out)
    encoder = _encoders.get(separators)
    if encoder is None:
        encoder = _encoders[separators] = _json.make_encoder(
            {}, _default, _json.encode_basestring_ascii, None, separators[1], separators[0],
            False, False, True)
    if isinstance(obj, str):  # the C encoder wants a container or a scalar it knows
        return _json.encode_basestring_ascii(obj)
    return "".join(encoder(obj, 0))


def _pretty(obj: Any, step: str, newline: str, out: list[str]) -> None:
    """json.dumps(indent=...)'s layout, with ', ' turned into ',' at line ends as json does."""
    if isinstance(obj, dict):
        if not obj:
            out.append("{}")
            return
        inner = newline + step
        out.append("{")
        first = True
        for key, value in obj.items():
            out.append(inner if first else "," + inner)
            first = False
            out.append(_json.encode_basestring_ascii(_key(key)) + ": ")
            _pretty(value, step, inner, out)
        out.append(newline + "}")
    elif isinstance(obj, (list, tuple)):
        if not obj:
            out.append("[]")
            return
        inner = newline + step
        out.append("[")
        for i, value in enumerate(obj):
            out.append(inner if i == 0 else "," + inner)
            _pretty(value, step, inner, out)
        out.append(newline + "]")
    else:
        out.append(dumps(obj, (",", ": ")) if not isinstance(obj, float) else _float(obj))


def _key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if key is True or key is False or key is None:
        return {True: "true", False: "false", None: "null"}[key]
    if isinstance(key, float):
        return _float(key)
    if isinstance(key, int):
        return int.__repr__(key)
    raise TypeError(f"keys must be str, int, float, bool or None, not {key.__class__.__name__}")
