"""The darse command: a thin client of darsed's Engine API (issue 4 builds it)."""

from __future__ import annotations

import sys


def entry() -> None:
    print("darse: the Docker-compatible CLI is not built yet; darse-runtime is the "
          "OCI runtime available today", file=sys.stderr)
    sys.exit(1)
