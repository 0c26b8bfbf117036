#!/usr/bin/env bash
# Run darse's whole test suite (as root: it runs real containers). Extra args go to pytest.
set -euo pipefail
cd "$(dirname "$0")"
PREFIX=${DARSE_PREFIX:-/opt/darse}
"$PREFIX/venv/bin/ruff" check darse tests bench
exec "$PREFIX/venv/bin/python" -m pytest "$@"
