"""The embedded RL engine: one process on one machine (CPU or one GPU).

Each training step, top to bottom:
  1. take `data.train_batch_size` prompts (a seeded shuffle per epoch, so step k always
     sees the same prompts, which makes resuming exact);
  2. sample `rollout.n` summaries per prompt with HF `generate`;
  3. score them with the reward (rewards.summary: -KL(p_sum || p_raw) + length penalty);
  4. advantages from verl's own estimator (`core_algos.get_adv_estimator_fn`, grouped by
     prompt), old log-probs from the policy before the update;
  5. `actor.ppo_epochs` passes over shuffled mini-batches of `ppo_mini_batch_size` prompts'
     samples, each in micro-batches: verl's policy loss (`get_policy_loss_fn`, vanilla or
     gspo) aggregated by its `agg_loss` mode, optional KL loss to the initial policy,
     AdamW with gradient clipping;
  6. log a metrics.jsonl line (and W&B), checkpoint every `run.save_every` steps;
  7. on verl's validation schedule (`trainer.val_before_train`, `trainer.test_freq`),
     the reward of the held-out prompts (val.parquet) with `rollout.val_kwargs`, to
     validation.jsonl and W&B `val/*`.

The verl keys mean here what they mean to verl; nothing of core_algos is re-implemented.
"""

from __future__ import annotations

import json
import logging
import os
import random
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from ranker.scoring import left_pad, padded_position_ids
from rlsum.actor import chat_prompt_ids, end_of_turn_id, fit_prompt
from jobdata import append_jsonl, write_jsonl
from jobdata.rl_rows import TRAIN_FILE, VAL_FILE, load_rows, row_task
from rlsum.run_summary import read_run_log
from rewards.length import summary_length
from rewards.summary import RewardConfig, score_summaries

log = logging.getLogger(__name__)

CHECKPOINTS = "checkpoints"
METRICS = "metrics.jsonl"
VALIDATION = "validation.jsonl"


@dataclass
class Rollout:
    """One step's samples, n consecutive rows per prompt."""

    input_ids: torch.Tensor  # [B, P + R] left-padded prompt, right-padded response
    attention_mask: torch.Tensor  # [B, P + R]
    response_mask: torch.Tensor  # [B, R] response tokens, end-of-turn included
    group: np.ndarray  # [B] prompt index within the step
    summaries: list[str]
    summary_tokens: list[int]  # response tokens without the end-of-turn token
    cut: list[bool]  # hit the length limit before ending its turn


class GumbelMaxSampling:
    """A logits processor that turns greedy decoding into sampling from softmax(scores /
    temperature), after top-p, by the Gumbel-max trick: the argmax of scores + Gumbel(0, 1)
    noise is token i with exactly that probability. It stands in for HF's own sampler,
    torch.multinomial, whose CPU kernel draws exponentials at a seventh of the speed of
    uniforms: over a 152K vocabulary that was 70% of a tiny actor's generation time."""

    def __init__(self, temperature: float, top_p: float = 1.0):
        from transformers import TopPLogitsWarper

        if temperature <= 0:
            raise ValueError(f"sampling needs temperature > 0, got {temperature}")
        self.temperature = temperature
        self.top_p = TopPLogitsWarper(top_p) if top_p < 1.0 else None

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        scores = scores.float() / self.temperature
        if self.top_p is not None:
            scores = self.top_p(input_ids, scores)
        return scores - torch.empty_like(scores).uniform_().log_().neg_().log_()


@torch.no_grad()
def sample_rollout(model, tokenizer, prompts: list[list[int]], n: int, max_new_tokens: int, temperature: float, top_p: float, do_sample: bool = True) -> Rollout:
    """`n` responses per prompt (rows in prompt order, n in a row): sampled at
    `temperature` / `top_p`, or greedy with `do_sample=False` (validation, as verl's
    val_kwargs default)."""
    from transformers import LogitsProcessorList

    eos, pad = end_of_turn_id(tokenizer), tokenizer.pad_token_id
    prompt_ids_, prompt_mask = left_pad(prompts, pad)
    prompt_ids_, prompt_mask = prompt_ids_.repeat_interleave(n, dim=0), prompt_mask.repeat_interleave(n, dim=0)
    out = model.generate(
        input_ids=prompt_ids_.to(model.device),
        attention_mask=prompt_mask.to(model.device),
        do_sample=False,  # greedy over Gumbel-perturbed scores when sampling
        logits_processor=LogitsProcessorList([GumbelMaxSampling(temperature, top_p)] if do_sample else []),
        max_new_tokens=max_new_tokens,
        eos_token_id=eos,
        pad_token_id=pad,
    ).cpu()
    # generate pads to the longest response of the batch, not to max_new_tokens: the LM
    # head over [samples, window, vocab] is most of a step, so the window stays tight.
    generated = out[:, prompt_ids_.shape[1] :]
    responses = torch.full(generated.shape, pad, dtype=torch.long)
    response_mask = torch.zeros_like(responses)
    summaries, summary_tokens, cut = [], [], []
    for i, row in enumerate(generated.tolist()):
        l_sum, was_cut = summary_length(row, eos, max_new_tokens)  # the rule verl's reward manager applies
        length = l_sum if was_cut else l_sum + 1  # the end-of-turn token is part of the response
        responses[i, :length] = torch.tensor(row[:length])
        response_mask[i, :length] = 1
        summaries.append(tokenizer.decode(row[:l_sum], skip_special_tokens=True))
        summary_tokens.append(l_sum)
        cut.append(was_cut)
    return Rollout(
        input_ids=torch.cat([prompt_ids_, responses], dim=1),
        attention_mask=torch.cat([prompt_mask, response_mask], dim=1),
        response_mask=response_mask,
        group=np.repeat(np.arange(len(prompts)), n),
        summaries=summaries,
        summary_tokens=summary_tokens,
        cut=cut,
    )


def response_log_probs(model, input_ids: torch.Tensor, attention_mask: torch.Tensor, response_width: int, temperature: float = 1.0, with_entropy: bool = False, entropy_grad: bool = False):
    """Log-prob of each response token [B, R] (and the policy's entropy there) under the
    sampling distribution (logits / temperature, as verl's actor computes them), with the
    LM head only over the response window. The entropy carries gradients only with
    `entropy_grad` (an entropy bonus in the loss); as a metric it is computed without, which
    saves a backward pass over [B, R, vocab]."""
    logits = model(input_ids=input_ids, attention_mask=attention_mask, position_ids=padded_position_ids(attention_mask), logits_to_keep=response_width + 1, use_cache=False).logits
    logits = logits[:, :-1].float()  # position t predicts token t + 1
    if temperature != 1.0:
        logits = logits / temperature
    token_log_probs = torch.log_softmax(logits, dim=-1)
    log_probs = torch.gather(token_log_probs, -1, input_ids[:, -response_width:].unsqueeze(-1)).squeeze(-1)
    if not with_entropy:
        return log_probs, None
    with torch.set_grad_enabled(entropy_grad and torch.is_grad_enabled()):
        entropy = -(token_log_probs.exp() * token_log_probs).sum(-1)
    return log_probs, entropy


@torch.no_grad()
def rollout_log_probs(model, rollout: Rollout, temperature: float, device: str, chunk: int = 16) -> torch.Tensor:
    """Response log-probs of every sample of a rollout under `model`, without gradients."""
    width = rollout.response_mask.shape[1]
    return torch.cat([response_log_probs(model, rollout.input_ids[i : i + chunk].to(device), rollout.attention_mask[i : i + chunk].to(device), width, temperature)[0].cpu() for i in range(0, len(rollout.summaries), chunk)])


def reward_metrics(parts: list, summaries: list[str], summary_tokens: list[int], cut: list[bool]) -> dict[str, float]:
    """The reward side of a step's (or a validation's) metrics. `distinct_fraction` (unique
    summaries over samples) falls towards 1 / samples when the policy collapses to one
    summary for every posting, which a rising reward alone does not reveal."""
    rewards = [p.reward for p in parts]
    return {
        "reward_mean": float(np.mean(rewards)),
        "reward_std": float(np.std(rewards, ddof=1)) if len(rewards) > 1 else 0.0,
        "kl_mean": float(np.mean([p.kl for p in parts])),
        "penalty_mean": float(np.mean([p.penalty for p in parts])),
        "compression": float(np.mean([p.compression for p in parts])),
        "response_length": float(np.mean(summary_tokens)),
        "cut_fraction": float(np.mean(cut)),
        "distinct_fraction": len(set(summaries)) / len(summaries),
    }


def validate(model, tokenizer, prompts: list[list[int]], tasks: list, scorer, reward_config: RewardConfig, cfg: DictConfig, chunk: int = 64) -> dict[str, float]:
    """The reward on the held-out prompts with verl's `rollout.val_kwargs` (greedy by
    default, so two validations differ only by what the policy learned)."""
    val = cfg.actor_rollout_ref.rollout.val_kwargs
    parts, summaries, summary_tokens, cut = [], [], [], []
    for start in range(0, len(prompts), chunk):
        rollout = sample_rollout(model, tokenizer, prompts[start : start + chunk], int(val.n), int(cfg.data.max_response_length), float(val.temperature), float(val.top_p), do_sample=bool(val.do_sample))
        parts += score_summaries(scorer, rollout.summaries, [tasks[start + g] for g in rollout.group], rollout.summary_tokens, rollout.cut, reward_config)
        summaries += rollout.summaries
        summary_tokens += rollout.summary_tokens
        cut += rollout.cut
    return reward_metrics(parts, summaries, summary_tokens, cut)


def prompts_and_tasks(rows: list[dict], tokenizer, max_prompt_tokens: int) -> tuple[list[list[int]], list]:
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
    return prompts, [row_task(row) for row in rows]


def step_prompts(n_rows: int, batch_size: int, step: int, seed: int) -> list[int]:
    """Row indices for a step: epochs are seeded permutations, walked in order."""
    start = step * batch_size
    rows = []
    while len(rows) < batch_size:
        epoch, offset = divmod(start + len(rows), n_rows)
        order = random.Random(seed * 1_000_003 + epoch).sample(range(n_rows), n_rows)
        rows.append(order[offset])
    return rows


def complete_checkpoints(run_dir: Path) -> list[Path]:
    """Checkpoints by step; a `step-N.tmp` left by a save that was killed is not one."""
    found = [p for p in (run_dir / CHECKPOINTS).glob("step-*") if p.name.split("-", 1)[1].isdigit()]
    return sorted(found, key=lambda p: int(p.name.split("-", 1)[1]))


def latest_checkpoint(run_dir: Path) -> Path | None:
    found = complete_checkpoints(run_dir)
    return found[-1] if found else None


def save_checkpoint(run_dir: Path, step: int, model, tokenizer, optimizer, keep: int = 2) -> Path:
    """HF actor + optimizer + step, written to a temp dir and renamed, so an interrupted
    save never leaves a checkpoint that looks complete."""
    final = run_dir / CHECKPOINTS / f"step-{step}"
    temp = final.with_name(final.name + ".tmp")
    shutil.rmtree(temp, ignore_errors=True)
    model.save_pretrained(temp / "actor")
    tokenizer.save_pretrained(temp / "actor")
    torch.save(optimizer.state_dict(), temp / "optimizer.pt")
    (temp / "trainer_state.json").write_text(json.dumps({"step": step}) + "\n")
    shutil.rmtree(final, ignore_errors=True)
    os.replace(temp, final)
    for old in complete_checkpoints(run_dir)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def keep_metrics_until(path: Path, step: int) -> None:
    """Drop metrics (or validation) lines of steps after `step`: they are recomputed
    after a resume from the checkpoint of `step`."""
    if not path.exists():
        return
    write_jsonl(path, [row for row in read_run_log(path) if row["step"] <= step])


def actor_loss_config(cfg: DictConfig):
    """verl's own ActorConfig dataclass (validated by verl) for its loss functions."""
    from verl.utils.config import omega_conf_to_dataclass

    return omega_conf_to_dataclass(cfg.actor_rollout_ref.actor)


def start_wandb(cfg: DictConfig, run_dir: Path):
    if "wandb" not in list(cfg.trainer.logger or []):
        return None
    import wandb

    mode = cfg.wandb.mode or ("online" if os.environ.get("WANDB_API_KEY") else "offline")
    id_file = run_dir / "wandb_id"
    run_id = id_file.read_text().strip() if id_file.exists() else secrets.token_hex(4)
    id_file.write_text(run_id + "\n")
    return wandb.init(project=cfg.trainer.project_name, name=cfg.trainer.experiment_name, id=run_id, resume="allow", dir=str(run_dir), mode=mode, config=OmegaConf.to_container(cfg, resolve=True))


def run_embedded(cfg: DictConfig, run_dir: Path, prepared_dir: Path, actor_path: str, ranker_path: str) -> Path:
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from verl.trainer.ppo import core_algos

    from rewards.scorer import load_scorer

    actor_cfg = cfg.actor_rollout_ref.actor
    rollout_cfg = cfg.actor_rollout_ref.rollout
    loss_config = actor_loss_config(cfg)
    reward_config = RewardConfig.from_penalty(cfg.penalty, cfg.summary_reward.cut_penalty)
    n, batch_size = int(rollout_cfg.n), int(cfg.data.train_batch_size)
    total_steps = int(cfg.trainer.total_training_steps)
    device = "cuda" if torch.cuda.is_available() else "cpu"

    rows = load_rows(prepared_dir / TRAIN_FILE)
    resume_from = latest_checkpoint(run_dir)
    start_step = json.loads((resume_from / "trainer_state.json").read_text())["step"] if resume_from else 0
    model_dir = str(resume_from / "actor") if resume_from else actor_path
    log.info("embedded engine on %s: %d prompts, %d steps, %s", device, len(rows), total_steps, f"resuming after step {start_step} from {resume_from}" if resume_from else "starting fresh")
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).to(device)
    reference = None
    if actor_cfg.use_kl_loss:
        reference = AutoModelForCausalLM.from_pretrained(actor_path, dtype=torch.float32).to(device).eval()
    optimizer = torch.optim.AdamW(model.parameters(), lr=actor_cfg.optim.lr, weight_decay=actor_cfg.optim.weight_decay)
    if resume_from:
        optimizer.load_state_dict(torch.load(resume_from / "optimizer.pt"))
    scorer = load_scorer(ranker_path, cfg.ranker.max_length, cfg.ranker.scorer_url, device=device)
    adv_fn = core_algos.get_adv_estimator_fn(cfg.algorithm.adv_estimator)
    policy_loss_fn = core_algos.get_policy_loss_fn(actor_cfg.policy_loss.loss_mode)
    max_prompt = int(cfg.data.max_prompt_length)
    prompts, tasks = prompts_and_tasks(rows, tokenizer, max_prompt)
    val_rows = load_rows(prepared_dir / VAL_FILE) if (prepared_dir / VAL_FILE).exists() else []
    val_prompts, val_tasks = prompts_and_tasks(val_rows, tokenizer, max_prompt)
    metrics_path, validation_path = run_dir / METRICS, run_dir / VALIDATION
    keep_metrics_until(metrics_path, start_step)
    keep_metrics_until(validation_path, start_step)
    validated = {row["step"] for row in read_run_log(validation_path)}
    wandb_run = start_wandb(cfg, run_dir)

    def maybe_validate(step: int) -> None:
        """verl's schedule: before training (trainer.val_before_train), every
        trainer.test_freq steps and at the last step; each step once, even across resumes."""
        test_freq = int(cfg.trainer.test_freq)
        due = (step == 0 and cfg.trainer.val_before_train) or (step > 0 and test_freq > 0 and (step % test_freq == 0 or step == total_steps))
        if not val_rows or not due or step in validated:
            return
        torch.manual_seed(cfg.run.seed * 1_000_003 + step + 500_009)  # apart from the step's own draws
        model.eval()
        metrics = {"step": step, **validate(model, tokenizer, val_prompts, val_tasks, scorer, reward_config, cfg)}
        append_jsonl(validation_path, [metrics])
        if wandb_run is not None:
            wandb_run.log({f"val/{k}": v for k, v in metrics.items() if k != "step"}, step=step)
        log.info("validation at step %d (%d prompts): reward %.4f, kl %.4f, distinct %.2f", step, len(val_prompts), metrics["reward_mean"], metrics["kl_mean"], metrics["distinct_fraction"])

    maybe_validate(start_step)

    bar = tqdm(range(start_step, total_steps), initial=start_step, total=total_steps, desc=f"RL {cfg.algo.name}", unit="step")
    for step in bar:
        started = time.time()
        torch.manual_seed(cfg.run.seed * 1_000_003 + step)
        chosen = step_prompts(len(rows), batch_size, step, cfg.run.seed)
        model.eval()
        rollout = sample_rollout(model, tokenizer, [prompts[i] for i in chosen], n, int(cfg.data.max_response_length), float(rollout_cfg.temperature), float(rollout_cfg.top_p))
        sample_tasks = [tasks[chosen[g]] for g in rollout.group]
        parts = score_summaries(scorer, rollout.summaries, sample_tasks, rollout.summary_tokens, rollout.cut, reward_config)
        scores = torch.tensor([p.reward for p in parts], dtype=torch.float32)

        response_mask = rollout.response_mask.float()
        last = response_mask.sum(-1).long().clamp(min=1) - 1
        token_rewards = torch.zeros_like(response_mask)
        token_rewards[torch.arange(len(scores)), last] = scores
        advantages, _ = adv_fn(token_level_rewards=token_rewards, response_mask=response_mask, index=rollout.group, norm_adv_by_std_in_grpo=cfg.algorithm.norm_adv_by_std_in_grpo)
        width, temperature = response_mask.shape[1], float(rollout_cfg.temperature)
        # verl pads responses to data.max_response_length, and "seq-mean-token-sum-norm"
        # (Dr. GRPO) divides by that padded width unless loss_scale_factor is set: the same
        # constant horizon here, whatever this step's longest response.
        horizon = loss_config.loss_scale_factor or int(cfg.data.max_response_length)
        old_log_prob = rollout_log_probs(model, rollout, temperature, device)
        ref_log_prob = rollout_log_probs(reference, rollout, temperature, device) if reference is not None else None

        model.train()
        update = {"pg_loss": [], "pg_clipfrac": [], "ppo_kl": [], "entropy": [], "grad_norm": [], "kl_loss": []}
        mini = int(actor_cfg.ppo_mini_batch_size) * n
        micro = int(actor_cfg.ppo_micro_batch_size_per_gpu)
        shuffle = random.Random(cfg.run.seed * 7919 + step)
        for _ in range(int(actor_cfg.ppo_epochs)):
            order = shuffle.sample(range(len(scores)), len(scores)) if actor_cfg.shuffle else list(range(len(scores)))
            for m_start in range(0, len(order), mini):
                members = order[m_start : m_start + mini]
                mask = response_mask[members]
                # Every micro-batch's loss is scaled against the whole mini-batch, as
                # verl's engine does, so the summed gradients equal one mini-batch loss.
                loss_config.global_batch_info.update(dp_size=1, batch_num_tokens=int(mask.sum()), global_batch_size=int((mask.sum(-1) > 0).sum()), loss_scale_factor=horizon)
                for u_start in range(0, len(members), micro):
                    rows_ = members[u_start : u_start + micro]
                    log_prob, entropy = response_log_probs(model, rollout.input_ids[rows_].to(device), rollout.attention_mask[rows_].to(device), width, temperature, with_entropy=True, entropy_grad=bool(actor_cfg.entropy_coeff))
                    r_mask = response_mask[rows_].to(device)
                    pg_loss, pg_metrics = policy_loss_fn(old_log_prob=old_log_prob[rows_].to(device), log_prob=log_prob, advantages=advantages[rows_].to(device), response_mask=r_mask, loss_agg_mode=loss_config.loss_agg_mode, config=loss_config)
                    loss = pg_loss
                    if actor_cfg.entropy_coeff:
                        loss = loss - actor_cfg.entropy_coeff * core_algos.agg_loss(entropy, r_mask, loss_config.loss_agg_mode, **loss_config.global_batch_info)
                    if reference is not None:
                        kl = core_algos.kl_penalty(log_prob, ref_log_prob[rows_].to(device), actor_cfg.kl_loss_type)
                        kl_loss = core_algos.agg_loss(kl, r_mask, loss_config.loss_agg_mode, **loss_config.global_batch_info)
                        loss = loss + actor_cfg.kl_loss_coef * kl_loss
                        update["kl_loss"].append(kl_loss.item())
                    loss.backward()
                    update["pg_loss"].append(pg_loss.item())
                    update["pg_clipfrac"].append(pg_metrics["actor/pg_clipfrac"])
                    update["ppo_kl"].append(pg_metrics["actor/ppo_kl"])
                    update["entropy"].append(float((entropy.detach() * r_mask).sum() / r_mask.sum().clamp(min=1)))
                grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), float(actor_cfg.grad_clip))
                update["grad_norm"].append(float(grad_norm))
                optimizer.step()
                optimizer.zero_grad()

        completed = step + 1
        metrics = {
            "step": completed,
            **reward_metrics(parts, rollout.summaries, rollout.summary_tokens, rollout.cut),
            **{k: float(np.mean(v)) for k, v in update.items() if v},
            "lr": optimizer.param_groups[0]["lr"],
            "step_time_s": round(time.time() - started, 3),
        }
        append_jsonl(metrics_path, [metrics])
        if wandb_run is not None:
            wandb_run.log({f"train/{k}": v for k, v in metrics.items() if k != "step"}, step=completed)
        bar.set_postfix(reward=f"{metrics['reward_mean']:.3f}", kl=f"{metrics['kl_mean']:.3f}", r=f"{metrics['compression']:.2f}")
        if completed % int(cfg.run.save_every) == 0 or completed == total_steps:
            save_checkpoint(run_dir, completed, model, tokenizer, optimizer)
        maybe_validate(completed)
    if wandb_run is not None:
        wandb_run.finish()
    return run_dir
