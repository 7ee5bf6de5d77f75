#!/usr/bin/env bash
# Training on a Slurm cluster through srun (tools/srun.sh), as mmdet's slurm_train.sh:
#   [GPUS=8] [GPUS_PER_NODE=8] [CPUS_PER_TASK=5] [GRES=gpu:8] [SRUN_ARGS=...] \
#       bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [train.py options]
set -euo pipefail
if [[ $# -lt 4 ]]; then
    echo "usage: bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [train.py options]" >&2
    exit 2
fi
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec bash "$HERE/srun.sh" "$1" "$2" "$HERE/train.py" "$3" --work-dir "$4" "${@:5}"
