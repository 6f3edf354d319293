"""engine=verl: verl's own trainer (`verl.trainer.main_ppo`) on a Ray GPU cluster.

Everything that talks to verl or to the Ray cluster for training lives here, thin:
- which engine a config gets, decided from the cluster's resources when a Ray cluster is
  addressed (`RAY_ADDRESS`; a `ray job` entrypoint runs on a head that often has no GPU);
- running the p_raw precompute on a GPU of that cluster;
- checks verl itself does not make (rollout replicas, paths every node sees);
- the verl config built from ours (data, actor, reward, checkpoints, W&B, run directory);
- the call into verl, with a TaskRunner that also writes our run-directory files
  (`rlsum.verl_run_dir`).
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig, open_dict

from rlsum.verl_run_dir import REWARD_LOG, REWARD_LOG_ENV, RUN_DIR_ENV, VERL_CHECKPOINTS

log = logging.getLogger(__name__)


def cluster_address() -> str | None:
    """The Ray cluster this process is pointed at (a `ray job` entrypoint always is)."""
    return os.environ.get("RAY_ADDRESS") or None


def connect(address: str) -> None:
    """Join the Ray cluster at `address` (once per process)."""
    import ray

    if not ray.is_initialized():
        ray.init(address=address, log_to_driver=False)


def disconnect() -> None:
    """Leave the cluster, so that verl's `run_ppo` joins it with its own runtime env."""
    import ray

    if ray.is_initialized():
        ray.shutdown()


def _has_vllm() -> bool:
    return importlib.util.find_spec("vllm") is not None


@dataclass(frozen=True)
class Resources:
    gpus: float
    vllm: bool
    where: str  # "this machine" or "the Ray cluster at ADDRESS"

    def missing_for_vllm(self) -> list[str]:
        """What vLLM generation lacks here ("CUDA GPUs", "vLLM"); empty when it can run.
        One rule for training (`choose_engine`) and batch summarizing (`rlsum.summarize`)."""
        return [what for what, present in (("CUDA GPUs", self.gpus > 0), ("vLLM", self.vllm)) if not present]


def probe_resources(address: str | None) -> Resources:
    """GPUs and vLLM where training would run: the addressed Ray cluster's GPU nodes (vLLM
    checked by a task on one of them), else this machine."""
    if address is None:
        import torch

        return Resources(torch.cuda.device_count() if torch.cuda.is_available() else 0, _has_vllm(), "this machine")
    import ray

    connect(address)
    gpus = float(ray.cluster_resources().get("GPU", 0))
    # A sliver of a GPU places the check on a GPU node without holding one.
    vllm = bool(gpus) and ray.get(ray.remote(num_gpus=0.01, num_cpus=0)(_has_vllm).remote())
    return Resources(gpus, vllm, f"the Ray cluster at {address}")


def choose_engine(requested: str, resources: Resources | None) -> tuple[str, str]:
    """(engine, why) for engine=auto|verl|embedded on these resources (none needed for embedded)."""
    if requested == "embedded":
        return "embedded", "requested"
    missing = resources.missing_for_vllm()
    if requested == "verl":
        if missing:
            why = {"CUDA GPUs": f"CUDA GPUs (none on {resources.where})", "vLLM": f"vLLM (not importable on {resources.where}'s GPU nodes; install the gpu extra there)"}
            raise ValueError(f"engine=verl needs {' and '.join(why[m] for m in missing)}; use engine=embedded, or point RAY_ADDRESS at a GPU cluster")
        return "verl", f"requested; {resources.gpus:g} GPUs on {resources.where}"
    if missing:
        return "embedded", f"auto: no {' and no '.join(missing)} on {resources.where}"
    return "verl", f"auto: {resources.gpus:g} GPUs and vLLM on {resources.where}"


def _call_on_gpu(fn, args, kwargs):
    import torch

    return fn(*args, **kwargs, device="cuda" if torch.cuda.is_available() else "cpu")


def on_a_gpu(address: str, fn, *args, **kwargs):
    """`fn(*args, **kwargs, device=...)` as a Ray task holding one GPU of the cluster
    (device "cuda" there): the head that runs the entrypoint may have no GPU at all."""
    import ray

    connect(address)
    log.info("running %s on a GPU of the Ray cluster", getattr(fn, "__name__", fn))
    return ray.get(ray.remote(num_gpus=1)(_call_on_gpu).remote(fn, args, kwargs))


def rollout_replicas(cfg: DictConfig) -> int:
    """vLLM servers verl starts: trainer GPUs // GPUs per replica (workers/rollout/llm_server.py)."""
    rollout = cfg.actor_rollout_ref.rollout
    per_replica = int(rollout.tensor_model_parallel_size) * int(rollout.data_parallel_size) * int(rollout.pipeline_model_parallel_size)
    return int(cfg.trainer.n_gpus_per_node) * int(cfg.trainer.nnodes) // per_replica


def check_verl_config(cfg: DictConfig, resources: Resources | None = None) -> None:
    """What verl's own validation lets through and a GPU run would trip over."""
    rollout = cfg.actor_rollout_ref.rollout
    gpus = int(cfg.trainer.n_gpus_per_node) * int(cfg.trainer.nnodes)
    if rollout_replicas(cfg) < 1:
        raise ValueError(
            f"no rollout server: trainer.n_gpus_per_node x trainer.nnodes = {gpus} GPUs, but one vLLM replica needs "
            f"tensor x data x pipeline parallel = {rollout.tensor_model_parallel_size} x {rollout.data_parallel_size} x "
            f"{rollout.pipeline_model_parallel_size}; lower actor_rollout_ref.rollout.tensor_model_parallel_size"
        )
    attention = cfg.actor_rollout_ref.model.override_config.get("attn_implementation")
    if attention in (None, "flash_attention_2") and importlib.util.find_spec("flash_attn") is None:
        raise ValueError("the FSDP actor would load with flash_attention_2 (verl's default), but flash-attn is not installed; set actor_rollout_ref.model.override_config.attn_implementation=sdpa")
    needed = gpus + (1 if cfg.ranker.serve else 0)
    if resources is not None and resources.gpus and resources.gpus < needed:
        serve = " plus one for the ranker's server (ranker.serve)" if cfg.ranker.serve else ""
        raise ValueError(f"trainer.n_gpus_per_node x trainer.nnodes = {gpus} GPUs{serve}, but {resources.where} has {resources.gpus:g}")


def check_shared_storage(paths: dict[str, Path], writable: dict[str, Path]) -> None:
    """On a cluster of several nodes, every path handed to verl must be the same storage on
    every node (reward workers run everywhere; FSDP ranks write their own shards): each
    GPU node must see `paths`, and read back a token written into each `writable` dir here."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    nodes = [node for node in ray.nodes() if node["Alive"] and node["Resources"].get("GPU", 0) > 0]
    if len(nodes) < 2:
        return
    token = secrets.token_hex(8)
    for path in writable.values():
        (path / ".rlsum-shared-check").write_text(token)

    def missing_here(paths: dict[str, str], writable: dict[str, str], token: str) -> list[str]:
        gone = [name for name, path in paths.items() if not os.path.exists(path)]
        for name, path in writable.items():
            marker = os.path.join(path, ".rlsum-shared-check")
            if not os.path.exists(marker) or open(marker).read() != token:
                gone.append(name)
        return gone

    check = ray.remote(num_cpus=0)(missing_here)
    answers = ray.get([
        check.options(scheduling_strategy=NodeAffinitySchedulingStrategy(node["NodeID"], soft=False)).remote({k: str(v) for k, v in paths.items()}, {k: str(v) for k, v in writable.items()}, token)
        for node in nodes
    ])
    for node, gone in zip(nodes, answers):
        if gone:
            name = gone[0]
            where = {**paths, **writable}[name]
            raise ValueError(f"{name}={where} is not the same storage on node {node['NodeManagerAddress']}: on a cluster of {len(nodes)} GPU nodes every path must be on storage all nodes mount (set run.root, cache_dir, jobs.data_dir, ranker.path and actor.path there)")


def in_ray_working_dir(path: Path) -> bool:
    """Whether `path` is inside a Ray job's temporary working directory (deleted with it)."""
    return "runtime_resources" in path.parts and any(part.startswith("_ray_pkg_") for part in path.parts)


def worker_env(cfg: DictConfig, run_dir: Path) -> dict[str, str]:
    """Environment every Ray worker of the run gets: W&B mode (cfg.wandb.mode, else online
    with a WANDB_API_KEY, else offline) and directory, and where the run directory is.
    Ray refuses a variable that the job's own runtime env already sets, so those are left
    to the job (and a different explicit wandb.mode is an error)."""
    from ray._private.runtime_env.constants import RAY_JOB_CONFIG_JSON_ENV_VAR

    job_env = json.loads(os.environ.get(RAY_JOB_CONFIG_JSON_ENV_VAR, "{}")).get("runtime_env", {}).get("env_vars") or {}
    mode = cfg.wandb.mode or os.environ.get("WANDB_MODE") or ("online" if os.environ.get("WANDB_API_KEY") else "offline")
    if cfg.wandb.mode and "WANDB_MODE" in job_env and job_env["WANDB_MODE"] != cfg.wandb.mode:
        raise ValueError(f"wandb.mode={cfg.wandb.mode}, but the Ray job's runtime env sets WANDB_MODE={job_env['WANDB_MODE']}; set one of them")
    wanted = {
        "WANDB_MODE": mode,
        "WANDB_DIR": os.environ.get("WANDB_DIR") or str(run_dir),
        RUN_DIR_ENV: str(run_dir),
        REWARD_LOG_ENV: str(run_dir / REWARD_LOG),
    }
    return {name: value for name, value in wanted.items() if name not in job_env}


def verl_config(cfg: DictConfig, run_dir: Path, prepared: Path, ranker: Path, actor: Path) -> DictConfig:
    """The config verl's main_ppo runs: our data, actor and reward filled in, checkpoints
    with an HF copy on our save schedule, W&B and the run directory in every worker's env."""
    from rewards.summary import RewardConfig
    from rewards.verl_reward import verl_reward_section

    reward = RewardConfig.from_penalty(cfg.penalty, cfg.summary_reward.cut_penalty)
    cfg = cfg.copy()
    with open_dict(cfg):
        cfg.data.train_files = str(prepared / "train.parquet")
        cfg.data.val_files = str(prepared / ("val.parquet" if (prepared / "val.parquet").exists() else "train.parquet"))
        cfg.data.apply_chat_template_kwargs = {"enable_thinking": False}
        cfg.actor_rollout_ref.model.path = str(actor)
        cfg.trainer.default_local_dir = str(run_dir / VERL_CHECKPOINTS)
        cfg.trainer.save_freq = int(cfg.run.save_every)
        contents = list(cfg.actor_rollout_ref.actor.checkpoint.save_contents)
        cfg.actor_rollout_ref.actor.checkpoint.save_contents = contents + ["hf_model"] * ("hf_model" not in contents)
        cfg.ray_kwargs.ray_init.runtime_env.env_vars = {**(cfg.ray_kwargs.ray_init.runtime_env.get("env_vars") or {}), **worker_env(cfg, run_dir)}
        # The in-process ranker runs in verl's reward workers, which Ray gives no GPU: auto is cpu there.
        device = "cpu" if cfg.ranker.device == "auto" else cfg.ranker.device
        cfg.reward.merge_with(verl_reward_section(reward, ranker, cfg.data.max_response_length, cfg.ranker.max_length, cfg.ranker.scorer_url, device, cfg.ranker.dtype))
    return cfg


def run_verl(cfg: DictConfig) -> None:
    from verl.trainer.main_ppo import run_ppo
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils.config import validate_config

    from rlsum.verl_run_dir import task_runner_class

    validate_config(config=cfg, use_reference_policy=need_reference_policy(cfg), use_critic=need_critic(cfg))
    disconnect()
    run_ppo(cfg, task_runner_class=task_runner_class(bool(cfg.trainer.use_v1)))
