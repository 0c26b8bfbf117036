"""run/create flags beyond the first ones (container.py parses those): healthchecks and
the rest, checked as the docker CLI checks them, in its words, and put in the request."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from darse.cli import Parser
    from darse.cli.flags import Namespace

_UNITS = {"ns": 1, "us": 10**3, "µs": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9,
          "h": 3600 * 10**9}


class RunFlagError(Exception):
    """A flag value the docker CLI refuses before talking to the daemon (its words)."""


def go_duration(text: str) -> int:
    """Nanoseconds of a Go duration ("1m30s", "500ms", "-2s"), as Go's ParseDuration."""
    s, total, sign = text, 0.0, 1
    if s[:1] in ("-", "+"):
        sign, s = (-1 if s[0] == "-" else 1), s[1:]
    if s == "0":
        return 0
    if not s:
        raise _bad_duration(text)
    while s:
        i = 0
        while i < len(s) and (s[i].isdigit() or s[i] == "."):
            i += 1
        number, s = s[:i], s[i:]
        j = 0
        while j < len(s) and not (s[j].isdigit() or s[j] == "."):
            j += 1
        unit, s = s[:j], s[j:]
        if not number or number == "." or number.count(".") > 1:
            raise _bad_duration(text)
        if not unit:
            exc = _bad_duration(text)
            exc.flag_detail = f'time: missing unit in duration "{text}"'
            raise exc
        if unit not in _UNITS:
            exc = _bad_duration(text)
            exc.flag_detail = f'time: unknown unit "{unit}" in duration "{text}"'
            raise exc
        total += float(number) * _UNITS[unit]
    return sign * int(total)


def _bad_duration(text: str) -> ValueError:
    exc = ValueError(text)
    exc.flag_detail = f'time: invalid duration "{text}"'
    return exc


def add(p: Parser) -> None:
    p.add_argument("--health-cmd")
    p.add_argument("--health-interval", type=go_duration, default=0)
    p.add_argument("--health-timeout", type=go_duration, default=0)
    p.add_argument("--health-start-period", type=go_duration, default=0)
    p.add_argument("--health-retries", type=int, default=0)
    p.add_argument("--no-healthcheck", action="store_true")


def apply(args: Namespace, config: dict[str, Any], host: dict[str, Any]) -> None:
    """These flags into the create request; RunFlagError as the docker CLI refuses."""
    _health(args, config)
    for key in _NULL_WHEN_EMPTY:
        if key in host and not host[key]:
            host[key] = None


# Lists the docker CLI sends as null when no flag gave them (dockerd shows them so).
_NULL_WHEN_EMPTY = ("Binds", "CapAdd", "CapDrop", "DeviceCgroupRules", "ExtraHosts",
                    "VolumesFrom", "SecurityOpt", "Links")


def _health(args: Namespace, config: dict[str, Any]) -> None:
    durations = (("interval", args.health_interval), ("timeout", args.health_timeout),
                 ("start-period", args.health_start_period))
    given = bool(args.health_cmd) or any(v for _, v in durations) or bool(args.health_retries)
    if args.no_healthcheck:
        if given:
            raise RunFlagError("--no-healthcheck conflicts with --health-* options")
        config["Healthcheck"] = {"Test": ["NONE"]}
        return
    if not given:
        return
    for name, value in durations[:2]:
        if value < 0:
            raise RunFlagError(f"--health-{name} cannot be negative")
    if args.health_retries < 0:
        raise RunFlagError("--health-retries cannot be negative")
    if args.health_start_period < 0:
        raise RunFlagError("--health-start-period cannot be negative")
    config["Healthcheck"] = {
        "Test": ["CMD-SHELL", args.health_cmd] if args.health_cmd else None,
        "Interval": args.health_interval, "Timeout": args.health_timeout,
        "StartPeriod": args.health_start_period, "Retries": args.health_retries}
