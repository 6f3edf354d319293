#!/usr/bin/env bash
# Run RL training (python -m rlsum.train) as a KubeRay RayJob: render
# launch/rayjob.yaml.tmpl (launch/render.py) and `kubectl apply` it.
#   IMAGE=REGISTRY/rlsum:gpu WORKERS=2 GPUS_PER_WORKER=8 launch/kuberay.sh [--dry-run] [HYDRA_OVERRIDE...]
# Every argument reaches rlsum.train unchanged; trainer.nnodes and trainer.n_gpus_per_node
# follow from WORKERS and GPUS_PER_WORKER. The W&B key comes from the Kubernetes secret
# WANDB_SECRET (default wandb, key api-key):
#   kubectl create secret generic wandb --from-literal=api-key="$WANDB_API_KEY"
# WANDB_SECRET= (empty) renders no secret and runs W&B offline. More settings: launch/render.py.
# NAMESPACE: the namespace to apply in (kubectl's current one when unset).
# --dry-run as the first argument, or DRY_RUN=1: print the manifest instead of applying it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

dry_run=0
if [ "${1:-}" = --dry-run ]; then dry_run=1; shift; fi
if [ "${DRY_RUN:-0}" = 1 ]; then dry_run=1; fi

if [ -z "${IMAGE:-}" ]; then
  if [ "$dry_run" = 0 ]; then
    echo "error: IMAGE is not set; export the training image (this repository with its gpu extra installed)" >&2
    exit 2
  fi
  echo "dry run: IMAGE is not set, the manifest shows a placeholder image" >&2
fi
manifest=$("${PYTHON:-python3}" "$here/render.py" "$@")
if [ "$dry_run" = 1 ]; then
  printf '%s\n' "$manifest"
  exit 0
fi
if ! command -v kubectl > /dev/null; then
  echo "error: kubectl is not on PATH" >&2
  exit 2
fi
printf '%s\n' "$manifest" | kubectl apply ${NAMESPACE:+--namespace "$NAMESPACE"} -f -
