#!/usr/bin/env bash
# srun for our tools on a Slurm cluster, one task per GPU (or CPU worker), as mmdet's
# slurm scripts start them; each task reads its rank from Slurm (--launcher slurm).
#   [GPUS=8] [GPUS_PER_NODE=8] [CPUS_PER_TASK=5] [GRES=gpu:8] [SRUN_ARGS=...] \
#       bash tools/srun.sh PARTITION JOB_NAME SCRIPT [script arguments]
# GPUS: tasks in all; GPUS_PER_NODE: tasks per node; GRES= (empty) on CPU-only nodes.
set -euo pipefail
PARTITION=$1
JOB_NAME=$2
SCRIPT=$3
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
GRES=${GRES-gpu:${GPUS_PER_NODE}}
SRUN_ARGS=${SRUN_ARGS:-""}
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON=${PYTHON:-$( [[ -x "$ROOT/.venv/bin/python" ]] && echo "$ROOT/.venv/bin/python" || echo python)}
# shellcheck disable=SC2086  # SRUN_ARGS holds several options
exec srun -p "$PARTITION" \
    --job-name="$JOB_NAME" \
    ${GRES:+--gres="$GRES"} \
    --ntasks="$GPUS" \
    --ntasks-per-node="$GPUS_PER_NODE" \
    --cpus-per-task="$CPUS_PER_TASK" \
    --kill-on-bad-exit=1 \
    $SRUN_ARGS \
    "$PYTHON" -u "$SCRIPT" --launcher slurm "${@:4}"
