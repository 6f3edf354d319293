"""Training aids for a ranker that starts from random weights and trains on a CPU (the
demo's tiny Qwen3), switched on by their `TrainOptions` fields and off by default.

A pretrained ranker already matches query words to item words and only has to learn the
label; a random one has to discover that mechanism from one bit per pair, which takes far
longer than a CPU run allows. The aids make the few steps it gets count:

- the lexical-match auxiliary loss (`lexical_match_weight`): at every token of the item
  text the model also predicts, with the same two label logits, whether that token occurs
  in the query (compared up to case and spaces). The per-token signal teaches matching
  directly; only the score position is ever read, so the extra predictions do not change
  how the ranker is used.
- the relevant-pair weight (`relevant_weight`): pairs with a positive target weigh W times
  the others. Most candidates are easy negatives, and without it a small model settles the
  coarse question (right job family?) long before the fine ones among relevant candidates
  (right seniority?) that NDCG@10 turns on.
- the negative share (`negative_share`): the same shift by sampling. Each pass takes every
  positive pair and a fresh random share of the rest, so a pass costs less and the same
  time buys more passes over the pairs that carry the fine distinctions.

`training_aids` turns the options into the `TrainingAids` the trainer calls; with every
aid off they leave training exactly as it is without them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch

from ranker.scoring import Ranker
from ranker.tokenizer import spelling_keys

if TYPE_CHECKING:
    from ranker.train import TrainOptions


def relevant_pair_weights(target: torch.Tensor, relevant_weight: float) -> torch.Tensor:
    """Loss weight per pair: `relevant_weight` where the target is positive, else 1."""
    return torch.where(target > 0, relevant_weight, 1.0)


def length_grouped(order: np.ndarray, lengths: np.ndarray, batch_size: int, groups_of: int = 50) -> np.ndarray:
    """`order` cut into runs of `groups_of` batches, each run sorted by length (longest
    first), so that every batch holds pairs of similar length and pads little. The runs
    keep the order's randomness; only the order inside a run changes."""
    run = batch_size * groups_of
    return np.concatenate([chunk[np.argsort(-lengths[chunk], kind="stable")] for chunk in np.split(order, range(run, len(order), run))]) if len(order) else order


class NegativeSubsampler(torch.utils.data.Sampler):
    """Each pass (epoch): every index whose target is positive and a fresh random `share`
    of the others, shuffled, then grouped by length as the trainer's own sampler does
    (without grouping, a batch mixing 60-token summaries with 400-token postings pads
    them all to the longest). Deterministic per (seed, epoch), so every rank draws the same
    order and a resumed run replays the interrupted pass."""

    def __init__(self, targets: np.ndarray, share: float, seed: int, lengths: np.ndarray | None = None, batch_size: int = 1):
        if not 0.0 < share <= 1.0:
            raise ValueError(f"negative share must be in (0, 1], got {share}")
        self.positive = np.flatnonzero(targets > 0)
        self.negative = np.flatnonzero(targets <= 0)
        self.n_negative = round(share * len(self.negative))
        self.seed = seed
        self.lengths = lengths
        self.batch_size = batch_size
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.positive) + self.n_negative

    def __iter__(self):
        rng = np.random.default_rng((self.seed, self.epoch))
        order = rng.permutation(np.concatenate([self.positive, rng.choice(self.negative, self.n_negative, replace=False)]))
        if self.lengths is not None:
            order = length_grouped(order, self.lengths, self.batch_size)
        return iter(order.tolist())


def match_targets(sequence: list[int], query_length: int, item_suffix_tokens: int, token_keys: dict[int, int], ignored_keys: set[int], item_first: bool = False) -> list[float]:
    """Per position of one tokenized pair, -1.0 where ignored. Query first: on the item
    text, 1.0 where the token's key also occurs in the query, else 0.0 (the query part and
    the item template's closing tokens are ignored). Item first: on the query part, 1.0
    where the token's key occurs in the item, else 0.0, ignoring template tokens and query
    filler. `token_keys` maps a token id to its spelling's key (ids absent are their own)."""
    keys = [token_keys.get(t, t) for t in sequence]
    if item_first:
        item_keys = set(keys[: len(sequence) - query_length])
        return [-1.0] * (len(sequence) - query_length) + [-1.0 if k in ignored_keys else float(k in item_keys) for k in keys[len(sequence) - query_length :]]
    query_keys = set(keys[:query_length]) - ignored_keys
    text_end = len(sequence) - item_suffix_tokens
    return [-1.0] * query_length + [float(k in query_keys) for k in keys[query_length:text_end]] + [-1.0] * (len(sequence) - max(text_end, query_length))


def match_ignored_keys(ranker: Ranker, queries: list[str], token_keys: dict[int, int], max_query_share: float = 0.25) -> set[int]:
    """Keys that say nothing about a match: the template's own tokens, whitespace and
    punctuation, and query filler such as " jobs" or " in" found in more than
    `max_query_share` of the training queries."""
    unique = list(dict.fromkeys(queries))
    counts: dict[int, int] = {}
    for ids in ranker.tokenizer(unique, add_special_tokens=False)["input_ids"]:
        for key in {token_keys.get(t, t) for t in ids}:
            counts[key] = counts.get(key, 0) + 1
    common = {key for key, n in counts.items() if n > max_query_share * len(unique)}
    no_word = {key for key in set(token_keys.values()) if not any(ch.isalnum() for ch in ranker.tokenizer.decode([key]))}
    template_tokens = ranker.encode_query("") + ranker.tokenizer(ranker.template.format_item(""), add_special_tokens=False)["input_ids"]
    return {token_keys.get(t, t) for t in template_tokens} | common | no_word


def lexical_match_loss(hidden: torch.Tensor, label_rows: torch.Tensor, match_target: torch.Tensor) -> torch.Tensor:
    """Class-balanced binary cross-entropy of the (first label - second label) logit
    margin at every position against `match_target` (1/0; negative entries ignored)."""
    logits = hidden @ label_rows.T.to(hidden.dtype)
    margin = (logits[..., 0] - logits[..., 1]).float()
    used = match_target >= 0
    if not used.any():
        return margin.sum() * 0.0
    target = match_target[used]
    # Matches are rare among item tokens: weight both classes equally, or predicting
    # "no match" everywhere would already look good.
    positives = target.sum().clamp(min=1.0)
    pos_weight = ((target.numel() - positives) / positives).clamp(min=1.0)
    return torch.nn.functional.binary_cross_entropy_with_logits(margin[used], target, pos_weight=pos_weight)


@dataclass
class LexicalMatch:
    """The lexical-match auxiliary loss over a training set: each row's `match_target`,
    their left padding into a batch, and the weighted loss term."""

    weight: float
    query_lengths: list[int]  # tokens of each pair's query part
    item_suffix_tokens: int
    token_keys: dict[int, int]
    ignored_keys: set[int]
    item_first: bool = False

    @classmethod
    def for_pairs(cls, weight: float, ranker: Ranker, pairs: list[tuple[str, str]], sequences: list[list[int]]) -> LexicalMatch:
        query_length = {q: len(ranker.encode_query(q)) for q in dict.fromkeys(q for q, _ in pairs)}
        token_keys = spelling_keys(ranker.tokenizer, set().union(*map(set, sequences)))
        ignored_keys = match_ignored_keys(ranker, [q for q, _ in pairs], token_keys)
        return cls(weight, [query_length[q] for q, _ in pairs], ranker.item_suffix_tokens, token_keys, ignored_keys, ranker.template.item_first)

    def row_fields(self, index: int, sequence: list[int]) -> dict:
        return {"match_target": match_targets(sequence, self.query_lengths[index], self.item_suffix_tokens, self.token_keys, self.ignored_keys, self.item_first)}

    def pad(self, rows: list[dict], input_ids: torch.Tensor) -> dict[str, torch.Tensor]:
        match_target = torch.full(input_ids.shape, -1.0)
        for row, r in enumerate(rows):
            match_target[row, input_ids.shape[1] - len(r["match_target"]) :] = torch.tensor(r["match_target"])
        return {"match_target": match_target}

    def __call__(self, model, out, inputs: dict[str, torch.Tensor], label_ids: torch.Tensor) -> torch.Tensor:
        # The last hidden state is the final-normed one the LM head reads.
        label_rows = model.get_output_embeddings().weight[label_ids[:2]]
        return self.weight * lexical_match_loss(out.hidden_states[-1], label_rows, inputs["match_target"])


# Auxiliary losses by the TrainOptions field that holds their weight (0: off).
AUXILIARY_LOSSES = {"lexical_match_weight": LexicalMatch.for_pairs}


@dataclass
class TrainingAids:
    """What the trainer asks of the aids: per-pair loss weights, a pass's sampler (None:
    the trainer's own) and auxiliary losses, each with its row fields and padding."""

    relevant_weight: float = 1.0
    sampler: torch.utils.data.Sampler | None = None
    auxiliary_losses: list = field(default_factory=list)

    def pair_weights(self, target: torch.Tensor) -> torch.Tensor:
        return relevant_pair_weights(target, self.relevant_weight)


def training_aids(options: TrainOptions, ranker: Ranker, pairs: list[tuple[str, str]], sequences: list[list[int]], targets: np.ndarray) -> TrainingAids:
    """The aids `options` switch on, built for this training set (a negative share outside
    (0, 1] fails here, before training starts)."""
    lengths = np.array([len(s) for s in sequences])
    sampler = None if options.negative_share == 1.0 else NegativeSubsampler(targets, options.negative_share, options.seed, lengths, options.batch_size)
    losses = [build(weight, ranker, pairs, sequences) for name, build in AUXILIARY_LOSSES.items() if (weight := getattr(options, name)) > 0]
    return TrainingAids(options.relevant_weight, sampler, losses)
