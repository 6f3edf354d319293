"""What a CPU run of verl's trainer needs: process environment and config overrides."""

from __future__ import annotations

import os
from pathlib import Path

TESTS_DIR = str(Path(__file__).resolve().parent.parent)  # holds the `verl_cpu` package
SYNC_LOG_ENV = "VERL_CPU_ROLLOUT_SYNC_LOG"  # set: the HF rollout server logs each weight sync there


def environment() -> dict[str, str]:
    """Env vars for the driver and every Ray process (ray.init's local cluster inherits the
    driver's environment; they also go into the job's runtime_env)."""
    parts = [part for part in os.environ.get("PYTHONPATH", "").split(os.pathsep) if part]
    return {
        "VERL_PLATFORM": "cpu",  # verl/plugin/platform: pick the registered cpu platform
        "VERL_USE_EXTERNAL_MODULES": "verl_cpu.plugin",  # verl/__init__.py imports it everywhere
        "PYTHONPATH": os.pathsep.join([TESTS_DIR] + [part for part in parts if part != TESTS_DIR]),
        "TOKENIZERS_PARALLELISM": "false",
        "OMP_NUM_THREADS": "1",
        "WANDB_MODE": "disabled",
        "RAY_DEDUP_LOGS": "0",
        "HF_HUB_OFFLINE": "1",
    }


def overrides(steps: int = 2, save_freq: int = 2, ray_cpus: int = 8, loggers: tuple[str, ...] = ("console",)) -> list[str]:
    """Tiny sizes and the CPU choices: fsdp2 in fp32, sdpa, no compile, the `hf` rollout with
    the `naive` checkpoint engine, KL off, one agent-loop and one reward worker, the legacy
    trainer (`trainer.use_v1=false`: no transfer_queue), logical GPUs/CPUs for Ray."""
    return [
        "data.train_batch_size=2",
        "data.max_prompt_length=128",
        "data.max_response_length=16",
        "data.dataloader_num_workers=0",
        "actor_rollout_ref.rollout.n=2",
        "actor_rollout_ref.actor.ppo_mini_batch_size=2",
        "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=1",
        "actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu=1",
        "actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu=1",
        "actor_rollout_ref.actor.strategy=fsdp2",
        "actor_rollout_ref.ref.strategy=fsdp2",
        "actor_rollout_ref.actor.use_kl_loss=false",
        "algorithm.use_kl_in_reward=false",
        "actor_rollout_ref.actor.use_torch_compile=false",
        "actor_rollout_ref.actor.fsdp_config.use_torch_compile=false",
        "+actor_rollout_ref.actor.fsdp_config.mixed_precision={param_dtype: fp32, reduce_dtype: fp32, buffer_dtype: fp32}",
        "actor_rollout_ref.model.override_config.attn_implementation=sdpa",
        "actor_rollout_ref.model.use_remove_padding=false",
        "actor_rollout_ref.model.enable_gradient_checkpointing=false",
        "actor_rollout_ref.rollout.name=hf",
        "actor_rollout_ref.rollout.mode=async",
        "actor_rollout_ref.rollout.tensor_model_parallel_size=1",
        "actor_rollout_ref.rollout.checkpoint_engine.backend=naive",
        "actor_rollout_ref.rollout.agent.num_workers=1",
        "actor_rollout_ref.rollout.calculate_log_probs=false",
        "reward.num_workers=1",
        f"trainer.total_training_steps={steps}",
        f"trainer.save_freq={save_freq}",
        f"run.save_every={save_freq}",  # rlsum.verl_engine.verl_config copies it to trainer.save_freq
        "trainer.test_freq=-1",
        "trainer.val_before_train=false",
        f"trainer.logger=[{','.join(loggers)}]",
        "trainer.n_gpus_per_node=1",
        "trainer.nnodes=1",
        "trainer.use_v1=false",
        "trainer.device=cpu",
        "trainer.resume_mode=disable",
        f"ray_kwargs.ray_init.num_cpus={ray_cpus}",
        "+ray_kwargs.ray_init.num_gpus=1",
    ]


def add_runtime_env(cfg) -> None:
    """Put `environment()` into `ray_kwargs.ray_init.runtime_env.env_vars`."""
    from omegaconf import open_dict

    with open_dict(cfg):
        env = cfg.ray_kwargs.ray_init.runtime_env
        env.env_vars = {**(env.get("env_vars") or {}), **environment()}


def run(config_path: str) -> None:
    """The path `engine=verl` takes (`rlsum.verl_engine.run_verl`: verl's `validate_config`,
    then `run_ppo` with verl's legacy `TaskRunner` (`trainer.use_v1=false`) wrapped to write
    the run directory's files)."""
    import ray
    from omegaconf import OmegaConf

    os.environ.update(environment())
    import verl  # noqa: F401  (loads verl_cpu.plugin through VERL_USE_EXTERNAL_MODULES)

    from rlsum.verl_engine import run_verl

    cfg = OmegaConf.load(config_path)
    add_runtime_env(cfg)
    try:
        run_verl(cfg)
    finally:
        ray.shutdown()


if __name__ == "__main__":
    import sys

    run(sys.argv[1])
