"""`python -m rlsum.train` on the embedded engine with tiny models: every algorithm trains
and logs, checkpoints reload with plain transformers, and a SIGKILLed run resumes.
(The update step alone, against hand-worked values: test_update_step.py.)"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rlsum.actor import build_tiny_actor
from jobdata.synth import write_synthetic

pytestmark = pytest.mark.e2e  # whole commands or training loops; the fast loop (README, Tests) skips it

REQUIRED = {"step", "reward_mean", "kl_mean", "penalty_mean", "length_ratio", "compression", "response_length", "cut_fraction", "distinct_fraction", "pg_loss", "pg_clipfrac", "ppo_kl", "entropy", "grad_norm", "lr", "step_time_s"}
RESPONSE = 8  # data.max_response_length below


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, tiny_model_dirs):
    root = tmp_path_factory.mktemp("rl")
    write_synthetic(root / "data", seed=3, n_items=60, n_queries=12)
    return {"data": root / "data", "ranker": tiny_model_dirs["qwen3"], "actor": build_tiny_actor(root / "actor", hidden_size=32, num_layers=2, num_heads=2)}


def overrides(inputs, run_dir, algo, steps, extra=()):
    return [
        f"+algo={algo}",
        f"jobs.data_dir={inputs['data']}",
        f"ranker.path={inputs['ranker']}",
        f"actor.path={inputs['actor']}",
        f"run.dir={run_dir}",
        f"cache_dir={run_dir}/cache",
        f"trainer.total_training_steps={steps}",
        "data.train_batch_size=2",
        "data.max_prompt_length=200",
        f"data.max_response_length={RESPONSE}",
        "actor_rollout_ref.rollout.n=3",
        "actor_rollout_ref.actor.ppo_mini_batch_size=2",
        "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=3",
        "jobs.max_items=6",
        "jobs.max_val_items=2",
        "ranker.max_length=96",
        "run.save_every=1",
        "trainer.logger=[console]",
        *extra,
    ]


def metrics(run_dir):
    return [json.loads(line) for line in (Path(run_dir) / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("algo", ["grpo", "drgrpo", "gspo"])
def test_each_algorithm_trains_logs_and_checkpoints(inputs, tmp_path, algo):
    from transformers import AutoModelForCausalLM

    from rlsum.train import main

    run_dir = main(overrides(inputs, tmp_path / algo, algo, steps=2))
    rows = metrics(run_dir)
    assert [r["step"] for r in rows] == [1, 2]
    assert all(REQUIRED <= set(r) for r in rows)
    for r in rows:
        assert r["reward_mean"] <= 0.0 and r["kl_mean"] >= 0.0 and r["penalty_mean"] <= 0.0  # -KL + penalty <= 0
        assert 0.0 < r["length_ratio"] < 1.0 and r["compression"] == 1.0 - r["length_ratio"]
        assert 0 <= r["response_length"] <= RESPONSE and 0.0 <= r["cut_fraction"] <= 1.0
        assert r["grad_norm"] > 0 and r["lr"] == 3e-4  # the policy was updated
    actor = AutoModelForCausalLM.from_pretrained(run_dir / "checkpoints" / "step-2" / "actor")
    assert actor.config.hidden_size == 32
    # Saved every step, the two latest kept, each whole: actor, optimizer and step.
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == ["step-1", "step-2"]
    assert json.loads((run_dir / "checkpoints" / "step-2" / "trainer_state.json").read_text()) == {"step": 2}
    assert (run_dir / "checkpoints" / "step-2" / "optimizer.pt").exists()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert (summary["length_ratio_first"], summary["compression_last"]) == (rows[0]["length_ratio"], rows[1]["compression"])
    assert (run_dir / "prepared" / "train.parquet").exists()
    # verl's schedule with the tiny default test_freq=10: before training and at the last step.
    validation = [json.loads(line) for line in (run_dir / "validation.jsonl").read_text().splitlines()]
    assert [v["step"] for v in validation] == [0, 2]
    assert all({"reward_mean", "kl_mean", "distinct_fraction"} <= set(v) and 0 < v["distinct_fraction"] <= 1 for v in validation)


def test_sigkill_then_same_command_resumes_without_losing_a_step(inputs, tmp_path):
    run_dir = tmp_path / "killed"
    command = [sys.executable, "-m", "rlsum.train", *overrides(inputs, run_dir, "gspo", steps=12, extra=["trainer.logger=[console,wandb]"])]
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_API_KEY": ""}
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    deadline = time.time() + 240
    while time.time() < deadline and first.poll() is None:
        if (run_dir / "metrics.jsonl").exists() and len(metrics(run_dir)) >= 4:
            break
        time.sleep(0.2)
    assert first.poll() is None, "the run ended before it could be killed"
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    before = metrics(run_dir)
    second = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert second.returncode == 0, second.stderr[-2000:]
    assert second.stdout.strip().splitlines()[-1] == f"run_dir={run_dir}"
    assert "resuming after step" in second.stderr
    after = metrics(run_dir)
    assert [r["step"] for r in after] == list(range(1, 13))  # every step once, counter continued
    resumed_from = int(second.stderr.split("resuming after step ")[1].split()[0])
    assert resumed_from >= 3
    # Completed, checkpointed steps are kept exactly as they were.
    assert [r["reward_mean"] for r in after[:resumed_from]] == [r["reward_mean"] for r in before[:resumed_from]]
    assert any((run_dir / "wandb").glob("offline-run-*"))
    # Validations (before training, every 10 steps, at the end) each ran exactly once.
    assert [json.loads(line)["step"] for line in (run_dir / "validation.jsonl").read_text().splitlines()] == [0, 10, 12]


def test_a_checkpoint_cut_short_by_a_kill_is_ignored(tmp_path):
    from rlsum.run_dir import CHECKPOINTS, latest_checkpoint

    for name in ("step-3", "step-12", "step-13.tmp"):
        (tmp_path / CHECKPOINTS / name).mkdir(parents=True)
    assert latest_checkpoint(tmp_path).name == "step-12"

