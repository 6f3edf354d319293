"""Texts against token budgets: how many tokens a text has, and how much of its start
fits when it is rendered into a longer prompt.

Both the ranker (an item inside its prompt template, `ranker.scoring`) and the actor (a
posting inside its chat prompt, `rlsum.actor`) keep the start of a long text and drop its
end. Re-tokenizing a cut text can merge or split a token at the cut, so the cut is found by
a few tries that each shorten by the overshoot, not computed once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

TOKENIZE_CHUNK = 512  # texts per tokenizer call: bounds memory on large splits


def count_tokens(tokenizer, texts: Sequence[str]) -> list[int]:
    """Tokens of each text under the tokenizer, without special tokens."""
    counts: list[int] = []
    for start in range(0, len(texts), TOKENIZE_CHUNK):
        encoded = tokenizer(list(texts[start : start + TOKENIZE_CHUNK]), add_special_tokens=False)["input_ids"]
        counts.extend(len(ids) for ids in encoded)
    return counts


def text_offsets(tokenizer, text: str):
    """The text's tokens with their character offsets (where a cut may fall)."""
    return tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)


def fit_start(text: str, offsets: Sequence[tuple[int, int]], render: Callable[[str], list[int]], budget: int, keep: int) -> tuple[str, list[int], int] | None:
    """The longest start of `text`, cut at a token boundary, whose rendering has at most
    `budget` ids: (the kept text, its rendered ids, text tokens dropped). `offsets`: the
    text's token offsets (`text_offsets`); `keep`: the first guess of text tokens to keep
    (the budget minus what the rendering adds). None when not even one token fits."""
    total = len(offsets)
    while keep > 0:
        cut = text[: offsets[keep][0]]
        ids = render(cut)
        if len(ids) <= budget:
            return cut, ids, total - keep
        keep -= len(ids) - budget
    return None
