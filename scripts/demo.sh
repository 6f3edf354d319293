#!/usr/bin/env bash
# Set up, then the CPU demo: synthetic job-search data, a tiny Qwen3 ranker trained from
# scratch, and its test-split NDCG@10 against BM25. Outputs go to runs/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
out=runs/demo
python -m rlsum.data synth --out "$out/data" --seed 0
# Case and space variants of a word ("Senior", " senior") start from one embedding.
python -m ranker.tiny --out "$out/tiny-init" --share-spellings
# The tiny CPU ranker reads the first 256 tokens of each pair (cut items are counted in
# the output), learns query-item matching with the lexical-match auxiliary loss and is
# trained towards graded targets (label / 3), one pass over the 36,878 training pairs.
python -m ranker.train --data "$out/data" --model "$out/tiny-init" --out "$out/ranker" \
  --max-length 256 --lexical-match-weight 1.0 --graded-targets --epochs 1 --lr 3e-3
python -m ranker.evaluate --data "$out/data" --model "$out/ranker" --split test --max-length 256 --bm25 | tee "$out/eval.json"
