#!/usr/bin/env bash
# Submit RL training (python -m rlsum.train) to a running Ray cluster as a Ray job.
#   RAY_ADDRESS=http://HEAD_HOST:8265 launch/ray_submit.sh [--dry-run] [HYDRA_OVERRIDE...]
# e.g. launch/ray_submit.sh +algo=gspo +penalty=p2 penalty.w=0.3 engine=verl \
#        trainer.nnodes=2 trainer.n_gpus_per_node=8 'trainer.logger=[console,wandb]'
# Every argument reaches rlsum.train unchanged. The repository is uploaded as the job's
# working dir, less /runs, /data, /outputs, /wandb, /.venv and /.git. That directory is
# temporary and every node has its own copy, so runs must go elsewhere: RUN_ROOT (storage
# every node mounts) is passed as run.root=RUN_ROOT before the arguments.
# Every Ray worker gets WANDB_API_KEY, WANDB_PROJECT, WANDB_DIR and HF_HOME when set here,
# WANDB_MODE (as set here, else online with a key and offline without) and PYTHONUNBUFFERED=1.
# RAY_JOB_ARGS: more `ray job submit` flags, split on spaces (e.g. "--no-wait").
# --dry-run as the first argument, or DRY_RUN=1: print the command (one line, with the
# W&B key's value masked) instead of running it; needs no ray.
set -euo pipefail
cd "$(dirname "$0")/.."
. launch/lib.sh

dry_run=0
if [ "${1:-}" = --dry-run ]; then dry_run=1; shift; fi
if [ "${DRY_RUN:-0}" = 1 ]; then dry_run=1; fi

address=${RAY_ADDRESS:-}
if [ -z "$address" ]; then
  if [ "$dry_run" = 0 ]; then
    echo "error: RAY_ADDRESS is not set; export the Ray dashboard address first, e.g. RAY_ADDRESS=http://HEAD_HOST:8265" >&2
    exit 2
  fi
  address=http://RAY_HEAD:8265
  echo "dry run: RAY_ADDRESS is not set, showing the placeholder $address" >&2
fi

# runtime_env KEY_TEXT: the runtime env JSON, with KEY_TEXT as WANDB_API_KEY's value.
runtime_env() {
  local vars=() name
  if [ -n "${WANDB_API_KEY:-}" ]; then vars+=("\"WANDB_API_KEY\": $(json_string "$1")"); fi
  vars+=("\"WANDB_MODE\": $(json_string "$(wandb_mode)")")
  for name in WANDB_PROJECT WANDB_DIR HF_HOME; do
    if [ -n "${!name:-}" ]; then vars+=("\"$name\": $(json_string "${!name}")"); fi
  done
  vars+=('"PYTHONUNBUFFERED": "1"')
  local joined
  joined=$(printf ', %s' "${vars[@]}")
  printf '{"env_vars": {%s}, "excludes": ["/runs", "/data", "/outputs", "/wandb", "/.venv", "/.git"]}' "${joined:2}"
}

read -r -a extra <<< "${RAY_JOB_ARGS:-}"
submit() {  # submit RUNTIME_ENV_JSON OVERRIDE...
  local env_json=$1
  shift
  cmd=(ray job submit --address "$address" --working-dir . --runtime-env-json "$env_json"
       "${extra[@]}" -- python -m rlsum.train ${RUN_ROOT:+"run.root=$RUN_ROOT"} "$@")
}

submit "$(runtime_env '***')" "$@"
shown=$(shquote "${cmd[@]}")
if [ "$dry_run" = 1 ]; then
  if [ -n "${WANDB_API_KEY:-}" ]; then echo "dry run: the WANDB_API_KEY value is shown as ***" >&2; fi
  printf '%s\n' "$shown"
  exit 0
fi
if ! command -v ray > /dev/null; then
  echo "error: the ray CLI is not on PATH; activate the environment that has ray installed" >&2
  exit 2
fi
echo "submitting: $shown" >&2
submit "$(runtime_env "${WANDB_API_KEY:-}")" "$@"
exec "${cmd[@]}"
