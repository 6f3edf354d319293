"""The training entry point's config: exact verl keys per algorithm, verl's own validation,
engine choice, and bad configs failing before any work with one clear line."""

import subprocess
import sys

import pytest

from rlsum.train import check_config, compose_config
from rlsum.verl_engine import choose_engine, verl_config

# DESIGN.md, "Training entry point": the verl keys each algorithm sets.
ALGO_KEYS = {
    "grpo": {"algorithm.adv_estimator": "grpo", "algorithm.norm_adv_by_std_in_grpo": True, "actor_rollout_ref.actor.loss_agg_mode": "token-mean", "actor_rollout_ref.actor.policy_loss.loss_mode": "vanilla"},
    "drgrpo": {"algorithm.adv_estimator": "grpo", "algorithm.norm_adv_by_std_in_grpo": False, "actor_rollout_ref.actor.loss_agg_mode": "seq-mean-token-sum-norm", "actor_rollout_ref.actor.use_kl_loss": False},
    "gspo": {
        "algorithm.adv_estimator": "grpo",
        "actor_rollout_ref.actor.policy_loss.loss_mode": "gspo",
        "actor_rollout_ref.actor.loss_agg_mode": "seq-mean-token-mean",
        "actor_rollout_ref.actor.clip_ratio_low": 3e-4,
        "actor_rollout_ref.actor.clip_ratio_high": 4e-4,
        "actor_rollout_ref.actor.use_kl_loss": False,
    },
}


def select(cfg, dotted):
    from omegaconf import OmegaConf

    return OmegaConf.select(cfg, dotted, throw_on_missing=True)


@pytest.mark.parametrize("algo", sorted(ALGO_KEYS))
def test_each_algo_sets_exactly_the_design_keys(algo):
    cfg = compose_config([f"+algo={algo}"])
    check_config(cfg)
    for key, value in ALGO_KEYS[algo].items():
        assert select(cfg, key) == value, key
    # Keys an algo file does not set keep verl's defaults (nothing else is changed).
    base = compose_config(["+algo=grpo"])
    assert select(cfg, "actor_rollout_ref.actor.clip_ratio") == select(base, "actor_rollout_ref.actor.clip_ratio")


def test_penalty_and_verl_keys_are_overridable():
    cfg = compose_config(["+algo=gspo", "+penalty=p1", "penalty.w=0.1", "penalty.tau=0.3", "data.train_batch_size=4", "actor_rollout_ref.rollout.n=2"])
    assert dict(cfg.penalty) == {"name": "p1", "w": 0.1, "tau": 0.3, "m": 300}
    assert cfg.data.train_batch_size == 4 and cfg.actor_rollout_ref.rollout.n == 2
    assert cfg.run.name == "gspo-p1-w0.1"


def test_composed_config_passes_verls_own_validation(tmp_path):
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils.config import validate_config

    for algo in ALGO_KEYS:
        cfg = verl_config(compose_config([f"+algo={algo}"]), tmp_path, tmp_path / "prepared", tmp_path / "ranker", tmp_path / "actor")
        validate_config(config=cfg, use_reference_policy=need_reference_policy(cfg), use_critic=need_critic(cfg))
        assert cfg.reward.custom_reward_function.name == "compute_score"
        assert cfg.reward.custom_reward_function.reward_kwargs.penalty == "p2"
        assert not need_critic(cfg)  # GRPO-family: no value model


def test_engine_choice_on_a_machine_without_gpus():
    assert choose_engine("embedded") == ("embedded", "requested")
    engine, why = choose_engine("auto")
    assert engine == "embedded" and "no CUDA GPUs" in why
    with pytest.raises(ValueError, match="engine=verl needs CUDA GPUs"):
        choose_engine("verl")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["+algo=sppo"], "Could not find 'algo/sppo'"),
        ([], "no algorithm selected: add +algo=grpo|drgrpo|gspo"),
        (["+algo=gspo", "+penalty=p1", "penalty.tau=1.0"], "0 <= tau < 1"),
        (["+algo=gspo", "penalty.w=-0.5"], "w must be >= 0"),
        (["+algo=gspo", "jobs.data_dir=/nonexistent/jobs", "ranker.path=/x"], "jobs.data_dir=/nonexistent/jobs: not a data directory"),
        (["+algo=gspo", "engine=fsdp"], "engine must be one of auto, verl, embedded"),
        (["+algo=gspo", "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=null"], "verl rejects the config"),
    ],
)
def test_bad_config_is_one_clear_error(overrides, message):
    with pytest.raises(ValueError, match=message.replace("|", r"\|").replace("+", r"\+")):
        check_config(compose_config(overrides))


def test_cli_bad_config_prints_one_line_and_does_no_work(tmp_path):
    out = subprocess.run([sys.executable, "-m", "rlsum.train", "+algo=gspo", "+penalty=p1", "penalty.tau=1.5", f"cache_dir={tmp_path}/cache", f"run.dir={tmp_path}/run"], capture_output=True, text=True, timeout=120)
    assert out.returncode != 0
    errors = [line for line in out.stderr.strip().splitlines() if line.strip()]
    assert len(errors) == 1 and "tau" in errors[0], out.stderr
    assert not (tmp_path / "cache").exists() and not (tmp_path / "run").exists()


def test_multirun_expands_comma_lists_into_their_product():
    from rlsum.train import expand_sweeps

    assert expand_sweeps(["+algo=grpo,gspo", "+penalty=p2", "penalty.w=0.3,1.0"]) == [
        ["+algo=grpo", "+penalty=p2", "penalty.w=0.3"],
        ["+algo=grpo", "+penalty=p2", "penalty.w=1.0"],
        ["+algo=gspo", "+penalty=p2", "penalty.w=0.3"],
        ["+algo=gspo", "+penalty=p2", "penalty.w=1.0"],
    ]


def test_multirun_checks_every_job_before_running_any(tmp_path):
    result = subprocess.run([sys.executable, "-m", "rlsum.train", "--multirun", "+algo=grpo,gspo", "+penalty=p1", "penalty.tau=0.5,1.5", f"run.dir={tmp_path}/run"], capture_output=True, text=True)
    assert result.returncode == 2 and "tau" in result.stderr and result.stderr.strip().count("\n") == 0
    assert not (tmp_path / "run").exists()


def test_a_changed_bootstrap_recipe_builds_afresh(tmp_path):
    from rlsum.bootstrap import recipe_dir

    recipe = {"sft_steps": 600, "lr": 3e-3}
    assert recipe_dir(tmp_path, "actor", recipe) == recipe_dir(tmp_path, "actor", dict(reversed(recipe.items())))
    assert recipe_dir(tmp_path, "actor", recipe) != recipe_dir(tmp_path, "actor", {**recipe, "sft_steps": 700})
    assert recipe_dir(tmp_path, "actor", recipe).parent == tmp_path
