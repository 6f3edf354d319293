"""engine=verl: verl's own trainer (`verl.trainer.main_ppo`) on a Ray GPU cluster.

Everything that talks to verl or to the Ray cluster for training lives here, thin: which
engine a config gets, the verl config built from ours, and the call into verl.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

from omegaconf import DictConfig, open_dict

log = logging.getLogger(__name__)


def choose_engine(requested: str) -> tuple[str, str]:
    import torch

    gpus = torch.cuda.is_available()
    vllm = importlib.util.find_spec("vllm") is not None
    missing = [what for what, ok in (("CUDA GPUs (torch.cuda.is_available() is False)", gpus), ("vLLM (install the gpu extra on GPU nodes)", vllm)) if not ok]
    if requested == "verl":
        if missing:
            raise ValueError(f"engine=verl needs {' and '.join(missing)}; use engine=embedded on this machine")
        return "verl", "requested"
    if requested == "embedded":
        return "embedded", "requested"
    if missing:
        return "embedded", f"auto: no {' and no '.join(m.split(' (')[0] for m in missing)}"
    return "verl", "auto: CUDA GPUs and vLLM are available"


def verl_config(cfg: DictConfig, run_dir: Path, prepared: Path, ranker: Path, actor: Path) -> DictConfig:
    """The config verl's main_ppo runs: our data, actor and reward function filled in."""
    import rewards.verl_reward
    from rewards.summary import RewardConfig

    reward = RewardConfig.from_penalty(cfg.penalty, cfg.summary_reward.cut_penalty)
    cfg = cfg.copy()
    with open_dict(cfg):
        cfg.data.train_files = str(prepared / "train.parquet")
        cfg.data.val_files = str(prepared / ("val.parquet" if (prepared / "val.parquet").exists() else "train.parquet"))
        cfg.data.apply_chat_template_kwargs = {"enable_thinking": False}
        cfg.actor_rollout_ref.model.path = str(actor)
        cfg.trainer.default_local_dir = str(run_dir / "checkpoints")
        cfg.reward.custom_reward_function.path = rewards.verl_reward.__file__
        cfg.reward.custom_reward_function.name = "compute_score"
        cfg.reward.custom_reward_function.reward_kwargs = {
            "ranker_path": str(ranker),
            "actor_tokenizer_path": str(actor),
            "max_response_tokens": int(cfg.data.max_response_length),
            "penalty": reward.penalty,
            "penalty_params": dict(reward.penalty_params),
            "cut_penalty": reward.cut_penalty,
            "ranker_max_length": cfg.ranker.max_length,
            "scorer_url": cfg.ranker.scorer_url,
        }
    return cfg


def run_verl(cfg: DictConfig) -> None:
    from verl.trainer.main_ppo import TaskRunnerV1, run_ppo
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils.config import validate_config

    validate_config(config=cfg, use_reference_policy=need_reference_policy(cfg), use_critic=need_critic(cfg))
    run_ppo(cfg, task_runner_class=TaskRunnerV1)


