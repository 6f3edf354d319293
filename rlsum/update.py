"""The embedded engine's policy update, pure: one step's rollout tensors, advantages and
log-probs in, the model and optimizer stepped, the update's metrics out (no I/O).

Everything of the maths is verl's own `core_algos`: the advantage estimator on outcome
rewards (`get_adv_estimator_fn`, grouped by prompt), the policy loss (`get_policy_loss_fn`,
vanilla or gspo), its aggregation (`agg_loss`) and the KL penalty to the initial policy
(`kl_penalty`). The keys of verl's actor config mean here what they mean to verl:
`ppo_epochs` passes over the samples, `shuffle`d, in mini-batches of `ppo_mini_batch_size`
prompts' samples (one optimizer step each, gradients clipped to `grad_clip`), each in
micro-batches of `ppo_micro_batch_size_per_gpu` samples.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
import torch

from rlsum.rollout import response_log_probs


def outcome_advantages(estimator: str, scores: torch.Tensor, response_mask: torch.Tensor, group: np.ndarray, norm_adv_by_std_in_grpo: bool) -> torch.Tensor:
    """Advantages [B, R] by verl's estimator `estimator` (`algorithm.adv_estimator`) of one
    score per sample, placed on its last response token as verl's reward loop places it;
    samples with the same `group` are one prompt's."""
    from verl.trainer.ppo import core_algos

    last = response_mask.sum(-1).long().clamp(min=1) - 1
    token_rewards = torch.zeros_like(response_mask)
    token_rewards[torch.arange(len(scores)), last] = scores
    advantages, _ = core_algos.get_adv_estimator_fn(estimator)(token_level_rewards=token_rewards, response_mask=response_mask, index=group, norm_adv_by_std_in_grpo=norm_adv_by_std_in_grpo)
    return advantages


@dataclass
class UpdateBatch:
    """What the update reads of one step's samples, row for row (on the CPU)."""

    input_ids: torch.Tensor  # [B, P + R] left-padded prompt, right-padded response
    attention_mask: torch.Tensor  # [B, P + R]
    response_mask: torch.Tensor  # [B, R] float: 1 on response tokens
    advantages: torch.Tensor  # [B, R]
    old_log_prob: torch.Tensor  # [B, R] under the policy that sampled the responses
    ref_log_prob: torch.Tensor | None  # [B, R] under the initial policy, for the KL loss; None without it


def update_policy(model, optimizer: torch.optim.Optimizer, batch: UpdateBatch, actor_config, samples_per_prompt: int, temperature: float, horizon: int, shuffle: random.Random) -> dict[str, float]:
    """verl's PPO-style update of `model` on `batch`; returns the means over micro-batches
    (grad_norm: over optimizer steps) of pg_loss, pg_clipfrac, ppo_kl, entropy, grad_norm
    and kl_loss (with `ref_log_prob`).

    `actor_config` is verl's actor config dataclass (`ActorConfig`); its `global_batch_info`
    is set for each mini-batch, as verl's engine sets it: every micro-batch's loss is
    scaled against the whole mini-batch, so their summed gradients equal one mini-batch
    loss.
    `temperature` is the rollout's (log-probs of logits / temperature), `horizon` the
    constant `loss_scale_factor` of "seq-mean-token-sum-norm", `shuffle` orders the samples
    of each epoch."""
    from verl.trainer.ppo import core_algos

    policy_loss_fn = core_algos.get_policy_loss_fn(actor_config.policy_loss.loss_mode)
    device, width, samples = model.device, batch.response_mask.shape[1], len(batch.input_ids)
    mini, micro = int(actor_config.ppo_mini_batch_size) * samples_per_prompt, int(actor_config.ppo_micro_batch_size_per_gpu)
    update = {"pg_loss": [], "pg_clipfrac": [], "ppo_kl": [], "entropy": [], "grad_norm": [], "kl_loss": []}
    for _ in range(int(actor_config.ppo_epochs)):
        order = shuffle.sample(range(samples), samples) if actor_config.shuffle else list(range(samples))
        for m_start in range(0, len(order), mini):
            members = order[m_start : m_start + mini]
            mask = batch.response_mask[members]
            actor_config.global_batch_info.update(dp_size=1, batch_num_tokens=int(mask.sum()), global_batch_size=int((mask.sum(-1) > 0).sum()), loss_scale_factor=horizon)
            for u_start in range(0, len(members), micro):
                rows = members[u_start : u_start + micro]
                log_prob, entropy = response_log_probs(model, batch.input_ids[rows].to(device), batch.attention_mask[rows].to(device), width, temperature, with_entropy=True, entropy_grad=bool(actor_config.entropy_coeff))
                r_mask = batch.response_mask[rows].to(device)
                pg_loss, pg_metrics = policy_loss_fn(old_log_prob=batch.old_log_prob[rows].to(device), log_prob=log_prob, advantages=batch.advantages[rows].to(device), response_mask=r_mask, loss_agg_mode=actor_config.loss_agg_mode, config=actor_config)
                loss = pg_loss
                if actor_config.entropy_coeff:
                    loss = loss - actor_config.entropy_coeff * core_algos.agg_loss(entropy, r_mask, actor_config.loss_agg_mode, **actor_config.global_batch_info)
                if batch.ref_log_prob is not None:
                    kl = core_algos.kl_penalty(log_prob, batch.ref_log_prob[rows].to(device), actor_config.kl_loss_type)
                    kl_loss = core_algos.agg_loss(kl, r_mask, actor_config.loss_agg_mode, **actor_config.global_batch_info)
                    loss = loss + actor_config.kl_loss_coef * kl_loss
                    update["kl_loss"].append(kl_loss.item())
                loss.backward()
                update["pg_loss"].append(pg_loss.item())
                update["pg_clipfrac"].append(pg_metrics["actor/pg_clipfrac"])
                update["ppo_kl"].append(pg_metrics["actor/ppo_kl"])
                update["entropy"].append(float((entropy.detach() * r_mask).sum() / r_mask.sum().clamp(min=1)))
            grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), float(actor_config.grad_clip))
            update["grad_norm"].append(float(grad_norm))
            optimizer.step()
            optimizer.zero_grad()
    return {k: float(np.mean(v)) for k, v in update.items() if v}
