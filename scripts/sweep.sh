#!/usr/bin/env bash
# The sweep behind docs/summaries_report/: RL runs on the embedded CPU engine over the
# algorithms and length penalties below, each run's test candidates summarized with its
# last checkpoint, then `rlsum.evaluate` (raw text, every run, truncation at matched
# lengths and fixed ratios, the plain-prompt baseline with the warm-started actor before RL, and the
# generator's reference summaries, which keep exactly what the labels depend on).
# Rerunning it resumes: a finished run's training is a no-op (it resumes from its last
# checkpoint, which is its last step) and its summaries are kept.
# On this 2-core machine a 30-step run takes about 3.5 minutes, 100 steps 11, and each
# summarization about 1.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
steps=trainer.total_training_steps=30
# The grid: every algorithm with P2 at w = 0.3, one Hydra multirun (runs/<algo>-p2-w0.3; each
# job a run of its own process, the sweep's record in runs/multirun/<time>/multirun.yaml).
python -m rlsum.train --multirun +algo=grpo,drgrpo,gspo +penalty=p2 penalty.w=0.3 $steps
python -m rlsum.train +algo=gspo +penalty=p2 penalty.w=1.0 $steps
p1=(+algo=drgrpo +penalty=p1 penalty.w=1.0 penalty.tau=0.02 penalty.m=0)
python -m rlsum.train "${p1[@]}" $steps
# The same setting with more training postings and steps (on 64 postings, 60 steps, its
# held-out reward falls after step 40).
python -m rlsum.train "${p1[@]}" jobs.max_items=512 trainer.total_training_steps=60 run.dir=runs/drgrpo-p1-w1.0-512x60
python -m rlsum.train "${p1[@]}" jobs.max_items=null trainer.total_training_steps=100 run.dir=runs/drgrpo-p1-w1.0-allx100
runs=(runs/{grpo,drgrpo,gspo}-p2-w0.3 runs/gspo-p2-w1.0 runs/drgrpo-p1-w1.0 runs/drgrpo-p1-w1.0-512x60 runs/drgrpo-p1-w1.0-allx100)
# The benchmark, bootstrapped ranker and warm-started actor every run used (runs/cache/<name>-<recipe>).
read -r data ranker actor < <(python -c 'import json, sys; s = json.load(open(sys.argv[1])); print(s["arguments"]["data"], s["ranker"], s["actor"])' "${runs[0]}/prepared/prepare_summary.json")
for dir in "${runs[@]}"; do
  [ -f "$dir/summaries/summaries.jsonl" ] || python -m rlsum.summarize run="$dir" data="$data" split=test
done
# Compression in the Qwen3 tokenizer's tokens, the reference models' own, for every row.
qwen3=$(python -c 'from ranker.tokenizer import qwen3_tokenizer_dir; print(qwen3_tokenizer_dir())')
python -m rlsum.evaluate --ranker "$ranker" --tokenizer "$qwen3" --data "$data" --runs "${runs[@]}" \
  --summaries "reference summaries=$data/reference_summaries.jsonl" \
  --plain-actor "$actor" --out docs/summaries_report
