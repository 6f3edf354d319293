"""verl 0.9.1's real trainer on CPU: `verl.trainer.main_ppo.run_ppo` with the legacy
`TaskRunner` (`RayPPOTrainer`: Ray resource pools, the FSDP2 actor worker, rollout replicas,
agent loop, reward loop, `naive` weight sync, checkpointing) for 2 GRPO steps on a tiny
Qwen3, with our config (`compose_config` + `verl_config`) and our reward.

It goes through verl's extension points (see tests/verl_cpu): a `cpu` platform in
`PlatformRegistry`, verl's FSDP engine registered for device `cpu`, and an HF-`generate`
rollout registered with `RolloutReplicaRegistry`; two small patches cover what has none.
The trainer runs in a subprocess, so its Ray cluster, env vars and import hooks stay out of
the pytest process.
"""

from __future__ import annotations

import inspect
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from verl_cpu.runner import SYNC_LOG_ENV, environment, overrides

pytestmark = pytest.mark.e2e  # whole commands or training loops; the fast loop (README, Tests) skips it

STEPS = 2
TIMEOUT_S = 420


def _prepared(tmp_path: Path, data_dir: Path, ranker: Path) -> tuple[Path, Path]:
    from rlsum.actor import build_tiny_actor
    from rlsum.data.prepare import prepare

    actor = build_tiny_actor(tmp_path / "actor", hidden_size=32, num_layers=2)
    extra = {"max_prompt_tokens": 128} if "max_prompt_tokens" in inspect.signature(prepare).parameters else {}
    prepare(data_dir, ranker, actor, tmp_path / "prepared", max_items=4, max_val_items=2, **extra)
    return tmp_path / "prepared", actor


def _actor_weights(path: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(next(path.glob("*.safetensors")))


@pytest.mark.slow
def test_verl_trainer_runs_two_steps_on_cpu(tmp_path, synthetic_data_dir, tiny_model_dirs):
    # verl/workers/rollout/router.py (imported by the trainer) needs it; only verl[verl-core] brings it.
    pytest.importorskip("cachetools", reason="verl's trainer imports cachetools (workers/rollout/router.py); pip install cachetools")
    from omegaconf import OmegaConf

    from rlsum.train import compose_config
    from rlsum.verl_engine import verl_config

    prepared, actor = _prepared(tmp_path, synthetic_data_dir, tiny_model_dirs["qwen3"])
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    rollouts = tmp_path / "rollouts"
    cfg = compose_config(["+algo=grpo", *overrides(steps=STEPS, save_freq=STEPS, loggers=("console", "file")), f"trainer.rollout_data_dir={rollouts}"])
    cfg = verl_config(cfg, run_dir, prepared, tiny_model_dirs["qwen3"], actor)
    config_path = tmp_path / "verl_config.yaml"
    OmegaConf.save(cfg, config_path)

    metrics_path = tmp_path / "verl_metrics.jsonl"
    sync_log = tmp_path / "rollout_syncs.jsonl"
    env = {**os.environ, **environment(), "VERL_FILE_LOGGER_PATH": str(metrics_path), SYNC_LOG_ENV: str(sync_log)}
    log_path = tmp_path / "trainer.log"
    start = time.monotonic()
    with open(log_path, "w") as log:
        # Its own process group: a timeout takes the Ray cluster it started down with it.
        trainer = subprocess.Popen([sys.executable, "-m", "verl_cpu.runner", str(config_path)], cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            returncode = trainer.wait(timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(trainer.pid, signal.SIGKILL)
            trainer.wait()
            returncode = None
    elapsed = time.monotonic() - start
    tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-60:])
    assert returncode == 0, f"verl's trainer {'timed out' if returncode is None else 'failed'} after {elapsed:.0f} s:\n{tail}"

    # 2 optimizer steps, logged by verl's own Tracking (file backend).
    rows = [json.loads(line) for line in metrics_path.read_text().splitlines()]
    steps = [row for row in rows if "training/global_step" in row["data"]]
    assert [row["step"] for row in steps] == list(range(1, STEPS + 1)), tail
    for row in steps:
        data = row["data"]
        assert math.isfinite(data["critic/score/mean"]) and math.isfinite(data["actor/grad_norm"])
        assert data["response_length/mean"] > 0
        assert "timing_s/update_actor" in data and "timing_s/update_weights" in data

    # The naive checkpoint engine pushed the actor's weights to the HF rollout before each step.
    syncs = [json.loads(line) for line in sync_log.read_text().splitlines()]
    assert len(syncs) >= STEPS and all(sync["tensors"] > 0 for sync in syncs), syncs
    assert syncs[1]["requests_before"] > 0, syncs  # the second sync follows the first step's rollout

    # The scores are our reward: every sample carries our parts, and score = -KL + penalty.
    for step in range(1, STEPS + 1):
        samples = [json.loads(line) for line in (rollouts / f"{step}.jsonl").read_text().splitlines()]
        assert len(samples) == int(cfg.data.train_batch_size) * int(cfg.actor_rollout_ref.rollout.n)
        for sample in samples:
            assert {"kl", "penalty", "length_ratio"} <= set(sample), sorted(sample)
            assert sample["kl"] >= 0 and sample["penalty"] <= 0
            assert sample["score"] == pytest.approx(-sample["kl"] + sample["penalty"], abs=1e-5)

    # verl checkpointed step 2, with an HF copy whose weights moved away from the start.
    checkpoints = Path(cfg.trainer.default_local_dir)
    assert (checkpoints / "latest_checkpointed_iteration.txt").read_text().strip() == str(STEPS)
    hf = checkpoints / f"global_step_{STEPS}" / "actor" / "huggingface"
    trained, initial = _actor_weights(hf), _actor_weights(actor)
    assert set(trained) <= set(initial)
    assert any(not trained[name].equal(initial[name]) for name in trained)
    # The run directory keeps the embedded engine's contract: one metrics.jsonl row per step
    # with our reward's parts (their means equal verl's own rollout dump of the step), and
    # the step's checkpoint as an HF actor under checkpoints/step-N/actor.
    from transformers import AutoModelForCausalLM

    from rlsum.run_summary import read_run_log

    metrics = read_run_log(run_dir / "metrics.jsonl")
    assert [row["step"] for row in metrics] == list(range(1, STEPS + 1))
    for row in metrics:
        samples = [json.loads(line) for line in (rollouts / f"{row['step']}.jsonl").read_text().splitlines()]
        assert row["reward_mean"] == pytest.approx(sum(s["score"] for s in samples) / len(samples), abs=1e-5)
        assert row["kl_mean"] == pytest.approx(sum(s["kl"] for s in samples) / len(samples), abs=1e-5)
        assert math.isfinite(row["grad_norm"]) and "pg_loss" in row and row["step_time_s"] > 0
    exported = run_dir / "checkpoints" / f"step-{STEPS}" / "actor"
    assert AutoModelForCausalLM.from_pretrained(exported).config.num_hidden_layers == 2
    assert all(_actor_weights(exported)[name].equal(tensor) for name, tensor in trained.items())
    print(f"verl trainer on CPU: {STEPS} steps in {elapsed:.0f} s")
