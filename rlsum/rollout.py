"""The embedded engine's rollout: `rollout.n` responses per prompt from HF `generate`
(`rlsum.hf_generate`), cut into summaries by the rule verl's reward manager applies
(`rewards.length.decode_summary`), and the log-probs of their tokens under a policy."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ranker.scoring import padded_position_ids
from rewards.length import decode_summary
from rlsum.hf_generate import GumbelMaxSampling, generate


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


def sample_rollout(model, tokenizer, prompts: list[list[int]], n: int, max_new_tokens: int, temperature: float, top_p: float, do_sample: bool = True) -> Rollout:
    """`n` responses per prompt (rows in prompt order, n in a row): sampled at
    `temperature` / `top_p`, or greedy with `do_sample=False` (validation, as verl's
    val_kwargs default)."""
    sampling = GumbelMaxSampling(temperature, top_p) if do_sample else None
    prompt_ids, prompt_mask, generated = generate(model, tokenizer, [p for p in prompts for _ in range(n)], max_new_tokens, sampling)
    # generate pads to the longest response of the batch, not to max_new_tokens: the LM
    # head over [samples, window, vocab] is most of a step, so the window stays tight.
    responses = torch.full(generated.shape, tokenizer.pad_token_id, dtype=torch.long)
    response_mask = torch.zeros_like(responses)
    summaries, summary_tokens, cut = [], [], []
    for i, row in enumerate(generated.tolist()):
        summary, l_sum, was_cut = decode_summary(tokenizer, row, max_new_tokens)
        length = l_sum if was_cut else l_sum + 1  # the end-of-turn token is part of the response
        responses[i, :length] = torch.tensor(row[:length])
        response_mask[i, :length] = 1
        summaries.append(summary)
        summary_tokens.append(l_sum)
        cut.append(was_cut)
    return Rollout(
        input_ids=torch.cat([prompt_ids, responses], dim=1),
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
