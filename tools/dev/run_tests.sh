#!/usr/bin/env bash
# Set everything up (first run: ~10 min, mostly the cached mmcv build) and run
# the linter and the whole test suite. Extra arguments go to pytest, e.g.
#   bash tools/dev/run_tests.sh -m "not slow"      # skip the end-to-end runs
#   bash tools/dev/run_tests.sh -m unit            # in-process tests only (minutes)
#   bash tools/dev/run_tests.sh -m tools           # tests that start the tools
#   bash tools/dev/run_tests.sh -n 0               # in one process
# Tests run in parallel (pytest-xdist), one worker per core up to 4
# (MMFV_TEST_WORKERS=N to choose), the cores shared out among the workers'
# threads (OMP_NUM_THREADS, unless set), one test handed out at a time to the
# worker that is free (--maxschedchunk 1: xdist's default chunks queued half of
# the remaining tests on one worker, which then ran them alone). The exit code is pytest's (or the
# linter's, if it fails first).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bash "$ROOT/tools/dev/bootstrap.sh"
VENV="${MMFV_VENV:-$ROOT/.venv}"
cd "$ROOT"
"$VENV/bin/ruff" check mmfastervit tools tests benchmarks
CORES="$(nproc)"
WORKERS="${MMFV_TEST_WORKERS:-$(( CORES < 4 ? CORES : 4 ))}"
if (( WORKERS > 1 )); then
  export OMP_NUM_THREADS="${OMP_NUM_THREADS:-$(( CORES / WORKERS > 1 ? CORES / WORKERS : 1 ))}"
  set -- -n "$WORKERS" --dist load --maxschedchunk 1 "$@"
fi
exec "$VENV/bin/python" -m pytest tests "$@"
