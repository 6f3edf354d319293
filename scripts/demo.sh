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
# The tiny CPU ranker reads the first 64 tokens of each pair: the instruction, the query,
# the posting's title line and its opening words (every cut item is counted in the
# output). It learns query-item matching with the lexical-match auxiliary loss and is
# trained towards graded targets (label / 3). Each pass takes every relevant pair and a
# fresh quarter of the irrelevant ones: most of those are easy, and short passes buy
# many passes over the relevant pairs, where seniority is learned, not only the job family.
python -m ranker.train --data "$out/data" --model "$out/tiny-init" --out "$out/ranker" \
  --max-length 64 --lexical-match-weight 1.0 --graded-targets --negative-share 0.25 --epochs 9.5 \
  --lr 3e-3 --batch-size 64 --save-steps 500
python -m ranker.evaluate --data "$out/data" --model "$out/ranker" --split test --max-length 64 --bm25 | tee "$out/eval.json"
