#!/usr/bin/env bash
# Set everything up (first run: ~10 min, mostly the cached mmcv build), then run the
# main job on its embedded default: write a synthetic COCO-layout dataset, train a
# Cascade Mask R-CNN with a small FasterViT, evaluate bbox/segm mAP, draw predictions.
#   bash tools/demo.sh            # detection (COCO layout)
#   bash tools/demo.sh ade20k     # semantic segmentation (ADE20K layout)
#   bash tools/demo.sh coco litv2 # detection with a small LITv2 backbone
#   bash tools/demo.sh coco dino  # DINO-4scale (NVIDIA's FasterViT detector recipe), small
#   bash tools/demo.sh coco mask2former    # Mask2Former, instance segmentation, reduced
#   bash tools/demo.sh ade20k mask2former  # Mask2Former, semantic segmentation, reduced
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/tools/dev/bootstrap.sh"
VENV="${MMFV_VENV:-$ROOT/.venv}"
cd "$ROOT"
exec "$VENV/bin/python" tools/demo.py "$@"
