"""The embedded engine's update step (`rlsum.update`) on a tiny model against hand-worked
values and an independent autograd computation, and verl's GRPO / Dr. GRPO advantages on
hand-worked groups of rewards. No rollout, no training loop."""

import copy
import math
import random

import numpy as np
import pytest
import torch

from rlsum.rollout import response_log_probs
from rlsum.update import UpdateBatch, outcome_advantages, update_policy

PROMPT, RESPONSE = 3, 4
LENGTHS = [4, 2, 3, 1]  # response tokens of the four samples (two prompts x two samples)
ADVANTAGES = [0.5, -1.0, 2.0, 0.25]  # one per sample
# sum of A_i * L_i: 0.5 * 4 - 1.0 * 2 + 2.0 * 3 + 0.25 * 1 = 6.25, over 10 response tokens


def tiny_model():
    from transformers import Qwen3Config, Qwen3ForCausalLM

    torch.manual_seed(0)
    config = Qwen3Config(vocab_size=32, hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2, head_dim=8, max_position_embeddings=64, tie_word_embeddings=True)
    return Qwen3ForCausalLM(config).train()  # no dropout in Qwen3: train and eval compute the same


def actor_config(loss_agg_mode="token-mean", micro_batch=4, **overrides):
    """verl's actor config, as `rlsum.embedded.actor_loss_config` builds it from ours:
    one mini-batch of both prompts' samples, no clipping of the gradient."""
    from verl.workers.config import FSDPActorConfig, PolicyLossConfig

    fields = dict(strategy="fsdp", rollout_n=2, ppo_mini_batch_size=2, ppo_micro_batch_size_per_gpu=micro_batch, ppo_epochs=1, shuffle=False, grad_clip=1e9, use_torch_compile=False, loss_agg_mode=loss_agg_mode, policy_loss=PolicyLossConfig(loss_mode="vanilla"))
    return FSDPActorConfig(**{**fields, **overrides})


def on_policy_batch(model, advantages, with_reference=False) -> UpdateBatch:
    """Four samples, the first prompt left-padded, right-padded responses of LENGTHS, their
    old (and reference) log-probs those of `model` itself: the ratio is exactly 1."""
    generator = torch.Generator().manual_seed(1)
    input_ids = torch.randint(0, 32, (4, PROMPT + RESPONSE), generator=generator)
    response_mask = torch.tensor([[1.0] * n + [0.0] * (RESPONSE - n) for n in LENGTHS])
    attention_mask = torch.cat([torch.ones(4, PROMPT, dtype=torch.long), response_mask.long()], dim=1)
    attention_mask[:2, 0] = 0  # the first prompt is one token shorter
    with torch.no_grad():
        old = response_log_probs(model, input_ids, attention_mask, RESPONSE)[0]
    return UpdateBatch(input_ids, attention_mask, response_mask, torch.tensor(advantages)[:, None] * response_mask, old, old.clone() if with_reference else None)


def update(model, batch, actor, lr=0.1, horizon=8):
    return update_policy(model, torch.optim.SGD(model.parameters(), lr=lr), batch, actor, samples_per_prompt=2, temperature=1.0, horizon=horizon, shuffle=random.Random(0))


@pytest.mark.parametrize(("loss_agg_mode", "expected"), [
    ("token-mean", -6.25 / 10),  # -sum(A_i L_i) / tokens
    ("seq-mean-token-sum-norm", -6.25 / (4 * 8)),  # Dr. GRPO: -sum(A_i L_i) / (samples * horizon 8)
    ("seq-mean-token-mean", -(0.5 - 1.0 + 2.0 + 0.25) / 4),  # GSPO's: -mean(A_i)
])
def test_on_policy_vanilla_loss_is_minus_the_aggregated_advantage(loss_agg_mode, expected):
    model = tiny_model()
    batch = on_policy_batch(model, ADVANTAGES, with_reference=True)
    with torch.no_grad():  # the policy's entropy on the response tokens, before the update
        logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask, position_ids=(batch.attention_mask.cumsum(-1) - 1).clamp(min=0)).logits[:, PROMPT - 1 : -1]
        entropy = torch.distributions.Categorical(logits=logits).entropy()
    metrics = update(model, batch, actor_config(loss_agg_mode, use_kl_loss=True))
    assert metrics["pg_loss"] == pytest.approx(expected, rel=1e-6)
    assert metrics["pg_clipfrac"] == 0.0 and metrics["ppo_kl"] == 0.0  # ratio exactly 1
    assert metrics["kl_loss"] == 0.0  # the reference is the policy itself
    assert metrics["entropy"] == pytest.approx(float((entropy * batch.response_mask).sum() / 10), rel=1e-5)
    assert metrics["grad_norm"] > 0


def test_a_constant_advantage_gives_minus_that_advantage():
    model = tiny_model()
    assert update(model, on_policy_batch(model, [0.7] * 4), actor_config())["pg_loss"] == pytest.approx(-0.7, rel=1e-6)


def test_zero_advantages_leave_the_weights_unchanged():
    model = tiny_model()
    before = copy.deepcopy(model.state_dict())
    metrics = update(model, on_policy_batch(model, [0.0] * 4), actor_config())
    assert metrics["grad_norm"] == 0.0 and metrics["pg_loss"] == 0.0
    assert all(torch.equal(before[name], tensor) for name, tensor in model.state_dict().items())


def test_one_sgd_step_equals_the_gradient_of_the_loss_computed_by_hand():
    """Two micro-batches of two samples each, accumulated into one optimizer step: the
    parameter change is -lr times the gradient of -sum(A * log p * mask) / tokens over the
    whole mini-batch (on-policy, d ratio = d log p), computed here with plain autograd."""
    model, lr = tiny_model(), 0.1
    reference = copy.deepcopy(model)
    batch = on_policy_batch(model, ADVANTAGES)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    update(model, batch, actor_config(micro_batch=2), lr=lr)

    logits = reference(input_ids=batch.input_ids, attention_mask=batch.attention_mask, position_ids=(batch.attention_mask.cumsum(-1) - 1).clamp(min=0)).logits[:, PROMPT - 1 : -1]
    log_p = torch.log_softmax(logits, -1).gather(-1, batch.input_ids[:, PROMPT:, None]).squeeze(-1)
    loss = -(batch.advantages * log_p * batch.response_mask).sum() / batch.response_mask.sum()
    loss.backward()
    stepped = dict(model.named_parameters())
    for name, p in reference.named_parameters():
        # atol: float32 spacing of weights near 1 (the norms') is 1.2e-7
        torch.testing.assert_close(stepped[name].detach() - before[name], -lr * p.grad, rtol=1e-4, atol=2e-7)


def test_grpo_and_dr_grpo_advantages_on_hand_worked_groups():
    """Prompt 0's samples scored [1, 0, -1]: mean 0, std 1. Prompt 1's [3, 0, 0, 1]: mean 1,
    deviations [2, -1, -1, 0], sample std sqrt((4 + 1 + 1 + 0) / 3) = sqrt(2). GRPO divides
    by std + 1e-6 (verl's epsilon), Dr. GRPO does not; each response token gets its
    sample's advantage, padding none."""
    scores = torch.tensor([1.0, 0.0, -1.0, 3.0, 0.0, 0.0, 1.0])
    group = np.array([0, 0, 0, 1, 1, 1, 1])
    lengths = [3, 1, 2, 3, 3, 1, 2]
    response_mask = torch.tensor([[1.0] * n + [0.0] * (3 - n) for n in lengths])
    deviations = torch.tensor([1.0, 0.0, -1.0, 2.0, -1.0, -1.0, 0.0])
    std = torch.tensor([1.0, 1.0, 1.0, math.sqrt(2), math.sqrt(2), math.sqrt(2), math.sqrt(2)])
    grpo = outcome_advantages("grpo", scores, response_mask, group, norm_adv_by_std_in_grpo=True)
    dr_grpo = outcome_advantages("grpo", scores, response_mask, group, norm_adv_by_std_in_grpo=False)
    torch.testing.assert_close(grpo, (deviations / (std + 1e-6))[:, None] * response_mask)
    torch.testing.assert_close(dr_grpo, deviations[:, None] * response_mask)
