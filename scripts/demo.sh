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
# The tiny-from-scratch recipe (ranker/recipes.py): 64 tokens per pair, the lexical-match
# auxiliary loss, graded targets, and each pass on every relevant pair and a fresh quarter
# of the irrelevant ones.
python -m ranker.train --data "$out/data" --model "$out/tiny-init" --out "$out/ranker" \
  --recipe tiny-from-scratch --epochs 9.5 --save-steps 500
python -m ranker.evaluate --data "$out/data" --model "$out/ranker" --split test --max-length 64 --bm25 | tee "$out/eval.json"
