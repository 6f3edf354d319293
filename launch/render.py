"""Render launch/rayjob.yaml.tmpl into a KubeRay RayJob manifest (standard library only).

    python3 launch/render.py [HYDRA_OVERRIDE...] > rayjob.yaml

The overrides reach `python -m rlsum.train` unchanged, after `run.root` (on the volume)
and before `trainer.nnodes` and `trainer.n_gpus_per_node` set to the GPU workers the
manifest asks for. Every pod mounts the PersistentVolumeClaim STORAGE_CLAIM (ReadWriteMany,
e.g. launch/storage.yaml) at STORAGE_PATH: runs, checkpoints, the bootstrap cache and the
Hugging Face cache live there and outlive the cluster, which the RayJob deletes at the end.
The rest comes from the environment:

IMAGE            container image with this repository and its `gpu` extra installed
WORKERS          GPU worker pods (1)
GPUS_PER_WORKER  GPUs per worker pod (8)
WANDB_SECRET     Kubernetes secret holding the W&B API key (wandb); empty: no key, W&B offline
WANDB_SECRET_KEY the key inside that secret (api-key)
WANDB_MODE       W&B mode (online with a secret, offline without)
WANDB_PROJECT, WANDB_DIR  passed to every pod when set
HF_HOME          Hugging Face cache (STORAGE_PATH/hf)
STORAGE_CLAIM    the PersistentVolumeClaim every pod mounts (rlsum-storage)
STORAGE_PATH     where it is mounted (/mnt/rlsum); run.root is STORAGE_PATH/runs
SCORER           1: a one-GPU pod serves the ranker (/v1/score) and training scores through
                 it (ranker.serve=true, appended after the overrides); 0 (default): none
JOB_NAME (rlsum-train), TTL_SECONDS (3600), WORKER_CPU (32), WORKER_MEMORY (256Gi),
RAY_VERSION (2.60.0: the Ray version in the image)
"""

from __future__ import annotations

import json
import os
import re
import shlex
import string
import sys
from pathlib import Path

TEMPLATE = Path(__file__).with_name("rayjob.yaml.tmpl")
IMAGE_PLACEHOLDER = "SET-THE-IMAGE-VARIABLE-to-your-training-image"
# Characters YAML does not take literally inside a double-quoted scalar (line breaks it
# would fold, non-printables it rejects); JSON leaves them raw, so escape them here.
_YAML_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]")
_K8S_NAME = re.compile(r"[a-z0-9]([-a-z0-9]{0,48}[a-z0-9])?")


def yaml_value(value) -> str:
    """VALUE as a one-line JSON literal that YAML reads back as the same value."""
    text = json.dumps(value, ensure_ascii=False)
    return _YAML_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _whole_number(name: str, value, minimum: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a whole number, got {value!r}") from None
    if number < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value!r}")
    return number


def pod_env(wandb_secret: str, wandb_secret_key: str, wandb_mode: str | None,
            wandb_project: str | None, wandb_dir: str | None, hf_home: str | None) -> list[dict]:
    """Environment of every pod (and so of every Ray worker process)."""
    env = [{"name": "PYTHONUNBUFFERED", "value": "1"}]
    if wandb_secret:
        env.append({"name": "WANDB_API_KEY",
                    "valueFrom": {"secretKeyRef": {"name": wandb_secret, "key": wandb_secret_key}}})
    env.append({"name": "WANDB_MODE", "value": wandb_mode or ("online" if wandb_secret else "offline")})
    for name, value in (("WANDB_PROJECT", wandb_project), ("WANDB_DIR", wandb_dir), ("HF_HOME", hf_home)):
        if value:
            env.append({"name": name, "value": value})
    return env


def render(overrides: list[str], *, image: str = IMAGE_PLACEHOLDER, workers=1, gpus_per_worker=8,
           wandb_secret: str = "wandb", wandb_secret_key: str = "api-key", wandb_mode: str | None = None,
           wandb_project: str | None = None, wandb_dir: str | None = None, hf_home: str | None = None,
           job_name: str = "rlsum-train", ttl_seconds=3600, worker_cpu: str = "32",
           worker_memory: str = "256Gi", ray_version: str = "2.60.0",
           storage_claim: str = "rlsum-storage", storage_path: str = "/mnt/rlsum", scorer=0) -> str:
    """The RayJob manifest (YAML text) that runs `python -m rlsum.train OVERRIDES...`."""
    workers = _whole_number("WORKERS", workers, 1)
    gpus_per_worker = _whole_number("GPUS_PER_WORKER", gpus_per_worker, 1)
    ttl_seconds = _whole_number("TTL_SECONDS", ttl_seconds, 0)
    if not _K8S_NAME.fullmatch(job_name):
        raise ValueError(f"JOB_NAME must be lower-case letters, digits and '-' (at most 50), got {job_name!r}")
    if not image:
        raise ValueError("IMAGE must not be empty")
    if not _K8S_NAME.fullmatch(storage_claim):
        raise ValueError(f"STORAGE_CLAIM must be a PersistentVolumeClaim name (lower-case letters, digits and '-'), got {storage_claim!r}")
    if not storage_path.startswith("/"):
        raise ValueError(f"STORAGE_PATH must be an absolute path, got {storage_path!r}")
    storage_path = storage_path.rstrip("/") or "/"
    scorer = _whole_number("SCORER", scorer, 0)
    if scorer > 1:
        raise ValueError(f"SCORER must be 0 or 1, got {scorer}")
    entrypoint = shlex.join(["python", "-m", "rlsum.train", f"run.root={storage_path}/runs", *overrides,
                             f"trainer.nnodes={workers}", f"trainer.n_gpus_per_node={gpus_per_worker}",
                             *(["ranker.serve=true"] if scorer else [])])
    values = {
        "JOB_NAME": job_name,
        "ENTRYPOINT": entrypoint,
        "TTL_SECONDS": ttl_seconds,
        "RAY_VERSION": ray_version,
        "IMAGE": image,
        "ENV": pod_env(wandb_secret, wandb_secret_key, wandb_mode, wandb_project, wandb_dir, hf_home or f"{storage_path}/hf"),
        "WORKERS": workers,
        "GPUS_PER_WORKER": gpus_per_worker,
        "WORKER_CPU": str(worker_cpu),
        "WORKER_MEMORY": str(worker_memory),
        "STORAGE_CLAIM": storage_claim,
        "STORAGE_PATH": storage_path,
        "SCORER_REPLICAS": scorer,
    }
    template = string.Template(TEMPLATE.read_text())
    return template.substitute({name: yaml_value(value) for name, value in values.items()})


def settings_from_env(environ=os.environ) -> dict:
    """render()'s keyword arguments from the environment variables listed above."""
    names = {"image": "IMAGE", "workers": "WORKERS", "gpus_per_worker": "GPUS_PER_WORKER",
             "wandb_secret": "WANDB_SECRET", "wandb_secret_key": "WANDB_SECRET_KEY",
             "wandb_mode": "WANDB_MODE", "wandb_project": "WANDB_PROJECT", "wandb_dir": "WANDB_DIR",
             "hf_home": "HF_HOME",
             "job_name": "JOB_NAME", "ttl_seconds": "TTL_SECONDS", "worker_cpu": "WORKER_CPU",
             "worker_memory": "WORKER_MEMORY", "ray_version": "RAY_VERSION",
             "storage_claim": "STORAGE_CLAIM", "storage_path": "STORAGE_PATH", "scorer": "SCORER"}
    # WANDB_SECRET set but empty means "no secret"; every other empty variable means "default".
    return {arg: environ[var] for arg, var in names.items()
            if var in environ and (environ[var] or var == "WANDB_SECRET")}


def main(argv: list[str] | None = None) -> int:
    overrides = sys.argv[1:] if argv is None else argv
    try:
        sys.stdout.write(render(overrides, **settings_from_env()))
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
