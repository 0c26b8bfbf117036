"""darsed, the daemon serving the Docker Engine API (issue 4 builds it)."""

from __future__ import annotations

import sys


def entry() -> None:
    print("darsed: the daemon is not built yet", file=sys.stderr)
    sys.exit(1)
