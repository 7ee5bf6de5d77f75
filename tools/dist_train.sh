#!/usr/bin/env bash
# Distributed training through torchrun, one process per GPU (or CPU worker).
#   bash tools/dist_train.sh CONFIG NUM_PROCS [train.py options]
# Multi-node: set NNODES, NODE_RANK, MASTER_ADDR (and PORT) on every node.
set -euo pipefail
if [[ $# -lt 2 ]]; then
    echo "usage: bash tools/dist_train.sh CONFIG NUM_PROCS [train.py options]" >&2
    exit 2
fi
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec bash "$HERE/torchrun.sh" "$2" "$HERE/train.py" "$1" "${@:3}"
