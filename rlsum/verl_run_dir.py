"""A verl run keeps the run-directory contract of the embedded engine (DESIGN.md):
`metrics.jsonl` (one row per optimizer step, the same reward fields), `validation.jsonl`,
and HF-format actor checkpoints under `checkpoints/step-N/actor`.

verl logs its own metrics (losses, clip fraction, entropy, timings) but not our reward's
parts, which its reward workers compute on every node. So each reward worker appends one
JSON line per scored summary to `RUN_DIR/reward_log/` (`rewards.verl_reward`, when
`RLSUM_REWARD_LOG_DIR` is set), and `RunDirTaskRunner`, verl's TaskRunner with its
`Tracking` logger wrapped, turns the lines written since the previous log call into that
step's rows: verl logs a step only after all its rewards (and its validation) are in.
Checkpoints: verl writes FSDP shards with an HF copy (`global_step_N/actor/huggingface`,
`save_contents` includes `hf_model`); each new one is copied to `checkpoints/step-N/actor`
(`rlsum.run_dir.write_checkpoint`, the embedded engine's writer).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from jobdata import append_jsonl
from rewards.composite import RewardParts
from rewards.summary import reward_metrics
from rlsum.run_dir import METRICS, VALIDATION, checkpoint_dir, keep_metrics_until, write_checkpoint

REWARD_LOG_ENV = "RLSUM_REWARD_LOG_DIR"
RUN_DIR_ENV = "RLSUM_RUN_DIR"
REWARD_LOG = "reward_log"
VERL_CHECKPOINTS = "verl_checkpoints"
# verl's metric names -> the embedded engine's metrics.jsonl fields.
VERL_METRICS = {
    "actor/pg_loss": "pg_loss",
    "actor/pg_clipfrac": "pg_clipfrac",
    "actor/ppo_kl": "ppo_kl",
    "actor/entropy": "entropy",
    "actor/grad_norm": "grad_norm",
    "actor/lr": "lr",
    "timing_s/step": "step_time_s",
}


class RewardLogReader:
    """Reads the reward workers' lines appended since the previous call, file by file.
    Lines already there when it is created belong to an earlier (interrupted) attempt."""

    def __init__(self, directory: Path):
        self.directory = directory
        self._offsets: dict[Path, int] = {path: path.stat().st_size for path in directory.glob("*.jsonl")}

    def new_records(self) -> list[dict]:
        records = []
        for path in sorted(self.directory.glob("*.jsonl")):
            with path.open("rb") as f:
                f.seek(self._offsets.get(path, 0))
                data = f.read()
            complete = data[: data.rfind(b"\n") + 1]  # a line being written waits for the next call
            self._offsets[path] = self._offsets.get(path, 0) + len(complete)
            records += [json.loads(line) for line in complete.splitlines() if line.strip()]
        return records


def export_checkpoints(run_dir: Path) -> list[Path]:
    """Copy every verl checkpoint's HF model not yet exported to checkpoints/step-N/actor
    (written whole or not at all)."""
    exported = []
    for hf in sorted((run_dir / VERL_CHECKPOINTS).glob("global_step_*/actor/huggingface")):
        step = hf.parent.parent.name.removeprefix("global_step_")
        if not step.isdigit() or not (hf / "config.json").exists() or not any(hf.glob("*.safetensors")):
            continue
        if checkpoint_dir(run_dir, int(step)).exists():
            continue
        exported.append(write_checkpoint(run_dir, int(step), lambda directory: shutil.copytree(hf, directory / "actor"), engine="verl"))
    return exported


class RunDirLog:
    """What `RunDirTaskRunner` does at each of verl's log calls."""

    def __init__(self, run_dir: Path):
        self.run_dir = run_dir
        self.metrics_path, self.validation_path = run_dir / METRICS, run_dir / VALIDATION
        self.reader = RewardLogReader(run_dir / REWARD_LOG)
        self.resumed_at: int | None = None  # the step verl (re)started from, once its first log call says

    def on_log(self, data: dict, step: int) -> None:
        records = self.reader.new_records()
        if self.resumed_at is None:  # a resumed run redoes the steps after its checkpoint: drop their rows once
            self.resumed_at = step
            keep_metrics_until(self.metrics_path, step - 1)
            keep_metrics_until(self.validation_path, step - 1)
        for split, path in (("val", self.validation_path), ("train", self.metrics_path)):
            rows = [r for r in records if r["split"] == split]
            if not rows or (split == "train" and step == 0):
                continue
            parts = [RewardParts(reward=r["reward"], kl=r["kl"], penalty=r["penalty"], length_ratio=r["length_ratio"]) for r in rows]
            row = {"step": step, **reward_metrics(parts, [r["summary"] for r in rows], [r["summary_tokens"] for r in rows], [bool(r["cut"]) for r in rows])}
            if split == "train":
                row.update({ours: float(data[theirs]) for theirs, ours in VERL_METRICS.items() if theirs in data})
            append_jsonl(path, [row])
        export_checkpoints(self.run_dir)


def tracking_with_run_dir(tracking_cls, run_dir: Path):
    """verl's Tracking class, also writing the run directory's files at every log call."""

    class RunDirTracking(tracking_cls):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.run_dir_log = RunDirLog(run_dir)

        def log(self, data, step, backend=None):
            super().log(data, step, backend=backend)
            if backend is None:
                self.run_dir_log.on_log(data, int(step))

    return RunDirTracking


def task_runner_class(use_v1: bool):
    """verl's TaskRunner (v1 or legacy) as a Ray actor whose trainer logs into RUN_DIR too."""
    import ray

    if use_v1:
        from verl.trainer.main_ppo import TaskRunnerV1 as verl_runner
    else:
        from verl.trainer.main_ppo_v0 import TaskRunner as verl_runner

    class RunDirTaskRunner(verl_runner.__ray_actor_class__):
        def run(self, config):
            import verl.utils.tracking as tracking

            wrapped = tracking_with_run_dir(tracking.Tracking, Path(os.environ[RUN_DIR_ENV]))
            if use_v1:  # the v1 trainer binds Tracking when imported (it needs transfer_queue)
                import verl.trainer.ppo.v1.trainer_base as trainer_v1

                trainer_v1.Tracking = wrapped
            else:  # the legacy trainer imports it inside fit()
                tracking.Tracking = wrapped
            return super().run(config)

    return ray.remote(num_cpus=1)(RunDirTaskRunner)

