#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment with the pinned stack.
#
#   bash tools/dev/bootstrap.sh            # venv in ./.venv (override with MMFV_VENV=/path)
#
# The one slow step, building mmcv 2.1.0 with its compiled ops, is cached as a
# wheel under ${XDG_CACHE_HOME:-~/.cache}/mmfastervit, keyed by Python, torch and
# CUDA, so a second set-up on the same machine (a fresh clone included) skips it.
# With a GPU and nvcc on PATH the ops are built with CUDA (FORCE_CUDA=1 is set
# automatically; set MMFV_CUDA_OPS=0 to force a CPU-only build).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${MMFV_VENV:-$ROOT/.venv}"
PY="${MMFV_PYTHON:-python3.11}"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/mmfastervit"

TORCH=2.14.1
TORCHVISION=0.29.1
MMCV=2.1.0
PINS=(
  "numpy==1.26.4" "setuptools==80.9.0" "wheel" "ninja"
  "mmengine==0.10.7" "mmdet==3.3.0" "mmsegmentation==1.2.2"
  "timm==1.0.29" "ftfy" "regex" "pycocotools" "matplotlib" "scipy" "shapely" "terminaltables"
  "pytest" "pytest-xdist==3.8.0" "ruff" "yacs==0.1.8" "mkdocs==1.6.1"
  # ONNX export and ONNX Runtime (onnxscript: torch's dynamo exporter); numpy<2
  # above stays in the same pip call, or onnx would pull numpy 2
  "onnx==1.23.2" "onnxruntime==1.32.0" "onnxscript==0.7.2"
  # OpenVINO and its quantizer NNCF (numpy<2 holds with both; nncf wants ninja<1.14)
  "openvino==2026.4.1" "nncf==3.4.0"
)

log() { printf '[bootstrap] %s\n' "$*" >&2; }

# A stamp of everything that decides the environment's contents: when it is
# unchanged the whole set-up is a no-op.
STAMP_KEY="$(printf '%s\n' "$PY" "$TORCH" "$TORCHVISION" "$MMCV" "${PINS[@]}" \
  | cat - "$ROOT/setup.cfg" "$0" | sha256sum | cut -c1-16)"
STAMP="$VENV/.mmfastervit-stamp"
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$STAMP_KEY" ]]; then
  log "environment $VENV is up to date"
  exit 0
fi

if ! command -v "$PY" >/dev/null; then
  PY=python3
fi
if [[ ! -x "$VENV/bin/python" ]]; then
  log "creating virtual environment $VENV"
  "$PY" -m venv "$VENV"
fi
VPY="$VENV/bin/python"
# pip warns about every missing page of this machine's local mirrors; hide that noise only.
pip_quiet() { "$VPY" -m pip "$@" 2> >(grep -v "^WARNING: Location 'file://" >&2); }
pip_install() { pip_quiet install --disable-pip-version-check -q "$@"; }

log "installing torch $TORCH / torchvision $TORCHVISION"
pip_install "torch==$TORCH" "torchvision==$TORCHVISION" "numpy==1.26.4" "setuptools==80.9.0" wheel ninja

# ---- mmcv with ops, built once per (python, torch, cuda) and cached ----------
CUDA_OPS=0
if [[ "${MMFV_CUDA_OPS:-auto}" != 0 ]] && command -v nvcc >/dev/null \
   && "$VPY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  CUDA_OPS=1
fi
PYTAG="$("$VPY" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')"
KEY="mmcv-$MMCV-torch$TORCH-$PYTAG-$([[ $CUDA_OPS == 1 ]] && echo cuda || echo cpu)"
WHEEL_DIR="$CACHE/wheels/$KEY"
if ! ls "$WHEEL_DIR"/mmcv-*.whl >/dev/null 2>&1; then
  log "building mmcv $MMCV with ops ($KEY); this takes about 5 minutes once"
  BUILD="$(mktemp -d)"
  trap 'rm -rf "$BUILD"' EXIT
  pip_quiet download -q --no-deps --no-binary :all: "mmcv==$MMCV" -d "$BUILD"
  tar -xzf "$BUILD"/mmcv-"$MMCV".tar.gz -C "$BUILD"
  SRC="$BUILD/mmcv-$MMCV"
  # torch >= 2.14 headers need C++20; mmcv 2.1.0 hard-codes older standards.
  sed -i -E 's/-std=c\+\+1[47]/-std=c++20/g' "$SRC/setup.py"
  (
    cd "$SRC"
    export MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}" CFLAGS="-O2 -g0" CXXFLAGS="-O2 -g0"
    [[ $CUDA_OPS == 1 ]] && export FORCE_CUDA=1
    pip_quiet wheel -q --no-build-isolation --no-deps . -w "$BUILD/dist"
  )
  mkdir -p "$WHEEL_DIR"
  cp "$BUILD"/dist/mmcv-*.whl "$WHEEL_DIR/"
  log "cached $(ls "$WHEEL_DIR")"
fi
pip_install --no-deps "$WHEEL_DIR"/mmcv-*.whl

log "installing the OpenMMLab stack, timm and test tools"
pip_install "${PINS[@]}" "torch==$TORCH" "torchvision==$TORCHVISION" "mmcv==$MMCV" \
  --find-links "$WHEEL_DIR"
# The official implementation, a test-only numerical reference (NVIDIA NC licence).
pip_install --no-deps "fastervit==1.0.0"
pip_install --no-deps -e "$ROOT"

"$VPY" - <<'PY'
import mmcv, mmdet, mmseg, torch
from mmcv.ops import nms, RoIAlign  # noqa: F401  compiled ops must load
print(f'[bootstrap] torch {torch.__version__}, mmcv {mmcv.__version__}, '
      f'mmdet {mmdet.__version__}, mmseg {mmseg.__version__}')
PY
echo "$STAMP_KEY" > "$STAMP"
log "ready: $VENV"
