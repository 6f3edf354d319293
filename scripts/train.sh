#!/usr/bin/env bash
# Set up, then the main job: RL training of the summarizer on the embedded CPU default.
# Arguments are Hydra overrides for python -m rlsum.train (default: +algo=gspo).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
if [ "$#" -eq 0 ]; then set -- +algo=gspo; fi
python -m rlsum.train "$@"
