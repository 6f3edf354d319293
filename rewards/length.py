"""One definition of a summary's length and of a cut generation, for both engines.

A generation is the actor's token ids after the prompt. Its summary is the tokens before
the first end-of-turn token; it was cut when no end-of-turn token appears within the
first `max_tokens` generated tokens (the response length limit). The embedded engine
applies this to HF `generate`'s output, verl's reward manager (`rewards.verl_reward`) to
the rollout's response ids, so both give the same L_c and the same cut to the same sample.
Pure: token ids in, (l_sum, cut) out; no tokenizer, no re-tokenization of decoded text.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence


def end_of_turn_id(tokenizer) -> int:
    """The token a chat model emits to end its answer (Qwen: <|im_end|>, the tokenizer's eos)."""
    return tokenizer.eos_token_id


def summary_length(generated: Sequence[int], end_of_turn: int | Collection[int], max_tokens: int) -> tuple[int, bool]:
    """(l_sum, cut) of one generation: l_sum = generated tokens before the first end-of-turn
    token (at most `max_tokens`); cut = no end-of-turn token among the first `max_tokens`
    generated tokens. Padding after the end of turn is ignored."""
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be >= 1, got {max_tokens}")
    ends = {int(e) for e in end_of_turn} if isinstance(end_of_turn, (set, frozenset, list, tuple)) else {int(end_of_turn)}
    for position, token in enumerate(generated[:max_tokens]):
        if int(token) in ends:
            return position, False
    return min(len(generated), max_tokens), True
