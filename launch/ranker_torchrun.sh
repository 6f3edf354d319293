#!/usr/bin/env bash
# Ranker fine-tuning or distillation on every GPU of one node (one process per GPU).
#   launch/ranker_torchrun.sh DATA_DIR INIT_MODEL OUT_DIR [more ranker.train flags, e.g. --teacher DIR]
# Several nodes: run it on each with NNODES, NODE_RANK, MASTER_ADDR and MASTER_PORT set.
set -euo pipefail
if [ $# -lt 3 ]; then
  echo "usage: $0 DATA_DIR INIT_MODEL OUT_DIR [ranker.train flags...]" >&2
  exit 2
fi
data=$1 model=$2 out=$3
shift 3
gpus=${GPUS:-$(nvidia-smi -L | wc -l)}
if [ "${NNODES:-1}" -gt 1 ]; then
  rendezvous=(--nnodes "$NNODES" --node-rank "$NODE_RANK" --master-addr "$MASTER_ADDR" --master-port "${MASTER_PORT:-29500}")
else
  rendezvous=(--standalone)
fi
exec torchrun "${rendezvous[@]}" --nproc-per-node "$gpus" -m ranker.train \
  --data "$data" --model "$model" --out "$out" --dtype float32 --bf16 "$@"
