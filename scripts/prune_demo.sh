#!/usr/bin/env bash
# Set up, then the pruning benchmark on CPU: an 8-layer tiny ranker trained on the default
# synthetic data, pruned to 50% of its MLP neurons with 2 of its 8 layers removed,
# recovered by distillation; writes runs/prune/pruned8/prune_report.{md,json}, whose
# figures docs/pruning_synthetic.md shows. After setup, 29 minutes on the 2-core CPU machine
# (2026-12-03: training 15.5, pruning and recovery 11).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
data=runs/demo/data
[ -f "$data/qrels.jsonl" ] || python -m rlsum.data synth --out "$data" --seed 0
out=runs/prune
python -m ranker.tiny --out "$out/init8" --layers 8 --share-spellings
python -m ranker.train --data "$data" --model "$out/init8" --out "$out/ranker8" \
  --max-length 256 --lexical-match-weight 1.0 --graded-targets --epochs 0.5 --lr 3e-3
python -m ranker.prune --model "$out/ranker8" --data "$data" --out "$out/pruned8" \
  --mlp-keep 0.5 --drop-layers 2 --max-length 256 --recover distill --recover-epochs 0.5 \
  --sensitivity-queries 60 --calib-pairs 256
python -m serving.prune_speedup --pruned "$out/pruned8" --requests 4
