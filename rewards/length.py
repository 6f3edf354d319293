"""One definition of a summary's length, of a cut generation and of its text, for every
engine.

A generation is the actor's token ids after the prompt. Its summary is the tokens before
the first end-of-turn token; it was cut when no end-of-turn token appears within the
first `max_tokens` generated tokens (the response length limit). The embedded engine
applies this to HF `generate`'s output, verl's reward manager (`rewards.verl_reward`) to
the rollout's response ids and offline summarization (`rlsum.summarize`) to its
generator's ids, so all give the same L_c, cut and text to the same sample. The length
comes from the token ids, never from re-tokenizing the decoded text.
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


def decode_summary(tokenizer, generated: Sequence[int], max_tokens: int) -> tuple[str, int, bool]:
    """(text, l_sum, cut) of one generation: `summary_length` with the tokenizer's
    end-of-turn token, and the text of those l_sum tokens without special tokens."""
    l_sum, cut = summary_length(generated, end_of_turn_id(tokenizer), max_tokens)
    return tokenizer.decode(generated[:l_sum], skip_special_tokens=True), l_sum, cut
