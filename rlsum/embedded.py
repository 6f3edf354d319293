"""The embedded RL engine's loop: one process on one machine (CPU or one GPU).

Each training step, top to bottom (`train_step`):
  1. take `data.train_batch_size` prompts (a seeded shuffle per epoch, so step k always
     sees the same prompts, which makes resuming exact);
  2. sample `rollout.n` summaries per prompt with HF `generate` (`rlsum.rollout`);
  3. score them with the reward (rewards.summary: -KL(p_sum || p_raw) + length penalty);
  4. advantages from verl's own estimator (grouped by prompt), old log-probs from the
     policy before the update (and the initial policy's, for a KL loss);
  5. the update (`rlsum.update`): `actor.ppo_epochs` passes over shuffled mini-batches of
     `ppo_mini_batch_size` prompts' samples, each in micro-batches: verl's policy loss
     (vanilla or gspo) aggregated by its `agg_loss` mode, optional KL loss to the initial
     policy, AdamW with gradient clipping;
  6. log a metrics.jsonl line (and W&B), checkpoint every `run.save_every` steps
     (`rlsum.run_dir`);
  7. on verl's validation schedule (`trainer.val_before_train`, `trainer.test_freq`),
     the reward of the held-out prompts (val.parquet) with `rollout.val_kwargs`, to
     validation.jsonl and W&B `val/*`.

The verl keys mean here what they mean to verl; nothing of core_algos is re-implemented.
Every random draw is seeded by `run.seed` and the step (the step's `torch.manual_seed`
before its rollout, its own seed for each validation, `random.Random` for prompts and
mini-batch order), so a resumed run repeats an uninterrupted one.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import torch
from omegaconf import DictConfig
from tqdm import tqdm

from jobdata import append_jsonl
from jobdata.rl_rows import TRAIN_FILE, VAL_FILE, ItemTask, load_rows, row_task
from rewards.summary import RewardConfig, reward_metrics, score_summaries
from rlsum.actor import chat_prompt_ids, fit_prompt
from rlsum.rollout import rollout_log_probs, sample_rollout
from rlsum.run_dir import METRICS, VALIDATION, checkpoint_step, keep_metrics_until, latest_checkpoint, save_checkpoint, start_wandb
from rlsum.run_summary import read_run_log
from rlsum.update import UpdateBatch, outcome_advantages, update_policy

log = logging.getLogger(__name__)


class Prompts(NamedTuple):
    """Prepared rows as the actor's prompt ids and the reward's item tasks, row for row."""

    ids: list[list[int]]
    tasks: list[ItemTask]


@dataclass
class Policy:
    """The actor being trained, its optimizer, and the initial policy that a KL loss
    holds it to (None without one)."""

    tokenizer: Any
    model: Any
    optimizer: torch.optim.Optimizer
    reference: Any | None


def prompts_and_tasks(rows: list[dict], tokenizer, max_prompt_tokens: int) -> Prompts:
    """Prepared rows as the actor's prompt ids and the reward's item tasks. The prompt is
    the row's `prompt` column rendered as verl renders it, so both engines train on the
    same ids; prepare fits it to `data.max_prompt_length` (`rlsum.actor.fit_prompt`). A
    row prepared without that budget (or with a larger one) is fitted here by the same
    rule, with a warning: verl would keep only the last tokens of such a prompt."""
    prompts, refitted = [], 0
    for row in rows:
        ids = chat_prompt_ids(tokenizer, row["prompt"])
        if len(ids) > max_prompt_tokens:
            ids = fit_prompt(tokenizer, row["extra_info"]["item_text"], max_prompt_tokens).ids
            refitted += 1
        prompts.append(ids)
    if refitted:
        log.warning("%d of %d prepared prompts are longer than data.max_prompt_length=%d and were cut here; prepare with max_prompt_tokens=%d so that verl trains on the same prompts", refitted, len(rows), max_prompt_tokens, max_prompt_tokens)
    return Prompts(prompts, [row_task(row) for row in rows])


def step_prompts(n_rows: int, batch_size: int, step: int, seed: int) -> list[int]:
    """Row indices for a step: epochs are seeded permutations, walked in order."""
    start = step * batch_size
    rows = []
    while len(rows) < batch_size:
        epoch, offset = divmod(start + len(rows), n_rows)
        order = random.Random(seed * 1_000_003 + epoch).sample(range(n_rows), n_rows)
        rows.append(order[offset])
    return rows


def actor_loss_config(cfg: DictConfig):
    """verl's own ActorConfig dataclass (validated by verl) for its loss functions."""
    from verl.utils.config import omega_conf_to_dataclass

    return omega_conf_to_dataclass(cfg.actor_rollout_ref.actor)


def load_policy(cfg: DictConfig, actor_path: str, resume_from: Path | None, device: str) -> Policy:
    """The actor (and its optimizer's state) from the checkpoint resumed from, else from
    `actor_path`; the initial policy from `actor_path` when `actor.use_kl_loss`."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    actor_cfg = cfg.actor_rollout_ref.actor
    model_dir = str(resume_from / "actor") if resume_from else actor_path
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).to(device)
    reference = AutoModelForCausalLM.from_pretrained(actor_path, dtype=torch.float32).to(device).eval() if actor_cfg.use_kl_loss else None
    optimizer = torch.optim.AdamW(model.parameters(), lr=actor_cfg.optim.lr, weight_decay=actor_cfg.optim.weight_decay)
    if resume_from:
        optimizer.load_state_dict(torch.load(resume_from / "optimizer.pt"))
    return Policy(tokenizer, model, optimizer, reference)


def validate(policy: Policy, prompts: Prompts, scorer, reward_config: RewardConfig, cfg: DictConfig, chunk: int = 64) -> dict[str, float]:
    """The reward on the held-out prompts with verl's `rollout.val_kwargs` (greedy by
    default, so two validations differ only by what the policy learned)."""
    val = cfg.actor_rollout_ref.rollout.val_kwargs
    parts, summaries, summary_tokens, cut = [], [], [], []
    for start in range(0, len(prompts.ids), chunk):
        rollout = sample_rollout(policy.model, policy.tokenizer, prompts.ids[start : start + chunk], int(val.n), int(cfg.data.max_response_length), float(val.temperature), float(val.top_p), do_sample=bool(val.do_sample))
        parts += score_summaries(scorer, rollout.summaries, [prompts.tasks[start + g] for g in rollout.group], rollout.summary_tokens, rollout.cut, reward_config)
        summaries += rollout.summaries
        summary_tokens += rollout.summary_tokens
        cut += rollout.cut
    return reward_metrics(parts, summaries, summary_tokens, cut)


def validation_due(cfg: DictConfig, step: int) -> bool:
    """verl's schedule: before training (trainer.val_before_train), every trainer.test_freq
    steps and at the last step."""
    test_freq, total_steps = int(cfg.trainer.test_freq), int(cfg.trainer.total_training_steps)
    return bool((step == 0 and cfg.trainer.val_before_train) or (step > 0 and test_freq > 0 and (step % test_freq == 0 or step == total_steps)))


def train_step(cfg: DictConfig, step: int, policy: Policy, prompts: Prompts, scorer, reward_config: RewardConfig, actor_config) -> dict:
    """Steps 1-5 of one training step; its metrics.jsonl row (`step` counts steps done).
    `actor_config` is verl's actor config dataclass (`actor_loss_config`)."""
    rollout_cfg = cfg.actor_rollout_ref.rollout
    n, temperature, device = int(rollout_cfg.n), float(rollout_cfg.temperature), policy.model.device
    started = time.time()
    torch.manual_seed(cfg.run.seed * 1_000_003 + step)
    chosen = step_prompts(len(prompts.ids), int(cfg.data.train_batch_size), step, cfg.run.seed)
    policy.model.eval()
    rollout = sample_rollout(policy.model, policy.tokenizer, [prompts.ids[i] for i in chosen], n, int(cfg.data.max_response_length), temperature, float(rollout_cfg.top_p))
    parts = score_summaries(scorer, rollout.summaries, [prompts.tasks[chosen[g]] for g in rollout.group], rollout.summary_tokens, rollout.cut, reward_config)

    response_mask = rollout.response_mask.float()
    scores = torch.tensor([p.reward for p in parts], dtype=torch.float32)
    batch = UpdateBatch(
        input_ids=rollout.input_ids,
        attention_mask=rollout.attention_mask,
        response_mask=response_mask,
        advantages=outcome_advantages(cfg.algorithm.adv_estimator, scores, response_mask, rollout.group, cfg.algorithm.norm_adv_by_std_in_grpo),
        old_log_prob=rollout_log_probs(policy.model, rollout, temperature, device),
        ref_log_prob=rollout_log_probs(policy.reference, rollout, temperature, device) if policy.reference is not None else None,
    )
    # verl pads responses to data.max_response_length, and "seq-mean-token-sum-norm"
    # (Dr. GRPO) divides by that padded width unless loss_scale_factor is set: the same
    # constant horizon here, whatever this step's longest response.
    horizon = actor_config.loss_scale_factor or int(cfg.data.max_response_length)
    policy.model.train()
    update = update_policy(policy.model, policy.optimizer, batch, actor_config, n, temperature, horizon, random.Random(cfg.run.seed * 7919 + step))
    return {
        "step": step + 1,
        **reward_metrics(parts, rollout.summaries, rollout.summary_tokens, rollout.cut),
        **update,
        "lr": policy.optimizer.param_groups[0]["lr"],
        "step_time_s": round(time.time() - started, 3),
    }


def run_embedded(cfg: DictConfig, run_dir: Path, prepared_dir: Path, actor_path: str, ranker_path: str) -> Path:
    """Train on the prepared parquets of `prepared_dir` into `run_dir` up to
    `trainer.total_training_steps`, resuming after its last checkpoint: the steps of the
    module docstring, steps 6 and 7 here."""
    from rewards.scorer import load_scorer

    total_steps = int(cfg.trainer.total_training_steps)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    train_rows = load_rows(prepared_dir / TRAIN_FILE)
    val_rows = load_rows(prepared_dir / VAL_FILE) if (prepared_dir / VAL_FILE).exists() else []
    resume_from = latest_checkpoint(run_dir)
    start_step = checkpoint_step(resume_from) if resume_from else 0
    log.info("embedded engine on %s: %d prompts, %d steps, %s", device, len(train_rows), total_steps, f"resuming after step {start_step} from {resume_from}" if resume_from else "starting fresh")
    policy = load_policy(cfg, actor_path, resume_from, device)
    scorer = load_scorer(ranker_path, cfg.ranker.max_length, cfg.ranker.scorer_url, device=device)
    reward_config = RewardConfig.from_penalty(cfg.penalty, cfg.summary_reward.cut_penalty)
    actor_config = actor_loss_config(cfg)
    max_prompt = int(cfg.data.max_prompt_length)
    prompts, val_prompts = prompts_and_tasks(train_rows, policy.tokenizer, max_prompt), prompts_and_tasks(val_rows, policy.tokenizer, max_prompt)
    metrics_path, validation_path = run_dir / METRICS, run_dir / VALIDATION
    keep_metrics_until(metrics_path, start_step)
    keep_metrics_until(validation_path, start_step)
    validated = {row["step"] for row in read_run_log(validation_path)}
    wandb_run = start_wandb(cfg, run_dir)

    def maybe_validate(step: int) -> None:
        """Step 7, each due step once, even across resumes."""
        if not val_prompts.ids or not validation_due(cfg, step) or step in validated:
            return
        torch.manual_seed(cfg.run.seed * 1_000_003 + step + 500_009)  # apart from the step's own draws
        policy.model.eval()
        metrics = {"step": step, **validate(policy, val_prompts, scorer, reward_config, cfg)}
        append_jsonl(validation_path, [metrics])
        if wandb_run is not None:
            wandb_run.log({f"val/{k}": v for k, v in metrics.items() if k != "step"}, step=step)
        log.info("validation at step %d (%d prompts): reward %.4f, kl %.4f, distinct %.2f", step, len(val_prompts.ids), metrics["reward_mean"], metrics["kl_mean"], metrics["distinct_fraction"])

    maybe_validate(start_step)
    bar = tqdm(range(start_step, total_steps), initial=start_step, total=total_steps, desc=f"RL {cfg.algo.name}", unit="step")
    for step in bar:
        metrics = train_step(cfg, step, policy, prompts, scorer, reward_config, actor_config)
        completed = metrics["step"]
        append_jsonl(metrics_path, [metrics])
        if wandb_run is not None:
            wandb_run.log({f"train/{k}": v for k, v in metrics.items() if k != "step"}, step=completed)
        bar.set_postfix(reward=f"{metrics['reward_mean']:.3f}", kl=f"{metrics['kl_mean']:.3f}", r=f"{metrics['length_ratio']:.2f}")
        if completed % int(cfg.run.save_every) == 0 or completed == total_steps:
            save_checkpoint(run_dir, completed, policy.model, policy.tokenizer, policy.optimizer)
        maybe_validate(completed)
    if wandb_run is not None:
        wandb_run.finish()
    return run_dir
