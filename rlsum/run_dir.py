"""The run directory both engines write (DESIGN.md's contract), as files: the metrics logs
(`metrics.jsonl`, `validation.jsonl`) and their truncation on resume, the HF checkpoints
under `checkpoints/step-N` (each written whole or not at all), and the W&B run that a
resumed run continues. The embedded engine writes them directly (`rlsum.embedded`); the
verl engine from verl's logs and checkpoints (`rlsum.verl_run_dir`).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from jobdata import numbered_dirs, write_directory, write_json, write_jsonl, write_text
from rlsum.run_summary import read_run_log

CHECKPOINTS = "checkpoints"
METRICS = "metrics.jsonl"
VALIDATION = "validation.jsonl"
STEP_PREFIX = "step-"
TRAINER_STATE = "trainer_state.json"


def keep_metrics_until(path: Path, step: int) -> None:
    """Drop metrics (or validation) lines of steps after `step`: they are recomputed
    after a resume from the checkpoint of `step`."""
    if not path.exists():
        return
    write_jsonl(path, [row for row in read_run_log(path) if row["step"] <= step])


def checkpoints(run_dir: Path) -> list[Path]:
    """The complete checkpoints, by step; a `step-N.tmp` left by a killed save is none."""
    return numbered_dirs(run_dir / CHECKPOINTS, STEP_PREFIX)


def latest_checkpoint(run_dir: Path) -> Path | None:
    found = checkpoints(run_dir)
    return found[-1] if found else None


def checkpoint_step(checkpoint: Path) -> int:
    """The optimizer steps done when `checkpoint` was written."""
    return json.loads((checkpoint / TRAINER_STATE).read_text())["step"]


def checkpoint_dir(run_dir: Path, step: int) -> Path:
    return run_dir / CHECKPOINTS / f"{STEP_PREFIX}{step}"


def write_checkpoint(run_dir: Path, step: int, build: Callable[[Path], None], **state) -> Path:
    """`checkpoints/step-N`: `build(directory)` writes the actor (`directory/actor`) and
    whatever else the engine keeps, then `trainer_state.json` = {step, **state}; through
    `jobdata.write_directory`, so a save cut short never looks complete."""

    def build_checkpoint(directory: Path) -> None:
        build(directory)
        write_json(directory / TRAINER_STATE, {"step": step, **state}, indent=None)

    return write_directory(checkpoint_dir(run_dir, step), build_checkpoint)


def save_checkpoint(run_dir: Path, step: int, model, tokenizer, optimizer, keep: int = 2) -> Path:
    """The embedded engine's checkpoint (HF actor, optimizer state, step); only the `keep`
    latest stay."""
    import torch

    def build(directory: Path) -> None:
        model.save_pretrained(directory / "actor")
        tokenizer.save_pretrained(directory / "actor")
        torch.save(optimizer.state_dict(), directory / "optimizer.pt")

    saved = write_checkpoint(run_dir, step, build)
    for old in checkpoints(run_dir)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return saved


def start_wandb(cfg: DictConfig, run_dir: Path):
    """The run's W&B run when `trainer.logger` lists wandb (else None): online with an API
    key, else offline unless `wandb.mode` says; a resumed run continues the same W&B run."""
    if "wandb" not in list(cfg.trainer.logger or []):
        return None
    import wandb

    mode = cfg.wandb.mode or ("online" if os.environ.get("WANDB_API_KEY") else "offline")
    id_file = run_dir / "wandb_id"
    run_id = id_file.read_text().strip() if id_file.exists() else secrets.token_hex(4)
    write_text(id_file, run_id + "\n")
    return wandb.init(project=cfg.trainer.project_name, name=cfg.trainer.experiment_name, id=run_id, resume="allow", dir=str(run_dir), mode=mode, config=OmegaConf.to_container(cfg, resolve=True))
