#!/usr/bin/env bash
# Set everything up (first run: ~10 min, mostly the cached mmcv build) and run
# the main job on its embedded default.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/tools/bootstrap.sh"
VENV="${MMFV_VENV:-$ROOT/.venv}"
cd "$ROOT"
"$VENV/bin/python" tools/backbone_demo.py --arch 2 --size 800 1216 --reference "$@"
