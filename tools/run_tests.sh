#!/usr/bin/env bash
# Set everything up (first run: ~10 min, mostly the cached mmcv build) and run
# the linter and the whole test suite. Extra arguments go to pytest, e.g.
#   bash tools/run_tests.sh -m "not slow"      # skip the end-to-end runs
#   bash tools/run_tests.sh -m unit            # in-process tests only (minutes)
#   bash tools/run_tests.sh -m tools           # tests that start the tools
# The exit code is pytest's (or the linter's, if it fails first).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/tools/bootstrap.sh"
VENV="${MMFV_VENV:-$ROOT/.venv}"
cd "$ROOT"
"$VENV/bin/ruff" check mmfastervit tools tests
exec "$VENV/bin/python" -m pytest tests "$@"
