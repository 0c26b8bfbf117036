"""Docker's human units (go-units): durations and sizes, shared by the daemon's views
and the CLI's tables."""

from __future__ import annotations


def human_duration(seconds: float) -> str:
    """go-units' HumanDuration, which docker ps and docker images use."""
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    m = s // 60
    if m == 1:
        return "About a minute"
    if m < 60:
        return f"{m} minutes"
    h = round(s / 3600)
    if h == 1:
        return "About an hour"
    if h < 48:
        return f"{h} hours"
    if h < 24 * 7 * 2:
        return f"{h // 24} days"
    if h < 24 * 30 * 2:
        return f"{h // 24 // 7} weeks"
    if h < 24 * 365 * 2:
        return f"{h // 24 // 30} months"
    return f"{h // 24 // 365} years"


def human_size(n: float, precision: int = 3) -> str:
    """go-units' HumanSizeWithPrecision(n, precision): decimal units (docker images and
    ps use 3 digits; HumanSize, which prune reports and system df use, 4)."""
    units = ["B", "kB", "MB", "GB", "TB", "PB"]
    i = 0
    while n >= 1000 and i < len(units) - 1:
        n /= 1000
        i += 1
    return f"{n:.{precision}g}{units[i]}"
