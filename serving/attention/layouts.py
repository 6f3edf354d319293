"""Attention layouts: what one forward pass of the scoring engine computes, as plain data
built once per batch from the planner's output (`serving.plan`) and read by every layer.

- `MultiItemLayout`: a packed batch flattened into one stream; each item attends to its
  sequence's query prefix and to itself, causally; nothing attends to delimiters.
- `PrefixCaptureLayout`: the batch's query prefixes alone, as padded rows attending
  causally; each layer's keys and values are kept for the item passes.
- `PrefixItemsLayout`: items of similar length as padded rows that attend to their
  prefix's captured keys and to themselves.

Each layout carries the model inputs of its pass (`input_ids`, `position_ids`) and its
masks as boolean tensors ([rows, queries, keys], True where a key is visible).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

import torch

from serving.plan import PackedBatch

# Items sorted by length and cut into blocks of this many keep padding small.
ITEMS_PER_BLOCK = 16


def length_buckets(lengths: list[int]) -> list[list[int]]:
    """Indices into `lengths`, sorted by length (stable) and cut into groups of
    `ITEMS_PER_BLOCK`: items of similar length share one padded block."""
    by_length = sorted(range(len(lengths)), key=lambda i: lengths[i])
    return [by_length[first : first + ITEMS_PER_BLOCK] for first in range(0, len(by_length), ITEMS_PER_BLOCK)]


def padded_rows(rows: list[list[int]], device) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded matrix of the rows (pad 0, at least one column) and its validity mask."""
    width = max((len(r) for r in rows), default=0)
    values = torch.zeros((len(rows), max(width, 1)), dtype=torch.long)
    valid = torch.zeros((len(rows), max(width, 1)), dtype=torch.bool)
    for i, row in enumerate(rows):
        values[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        valid[i, : len(row)] = True
    return values.to(device), valid.to(device)


def causal_mask(n: int, device) -> torch.Tensor:
    """[n, n]: query i sees keys 0..i."""
    return torch.ones((n, n), dtype=torch.bool, device=device).tril()


def no_empty_rows(mask: torch.Tensor) -> torch.Tensor:
    """Let rows with no visible key (padding) see key 0, so softmax stays finite; their
    outputs are never read."""
    empty = ~mask.any(dim=-1, keepdim=True)
    first = torch.zeros_like(mask)
    first[..., 0] = True
    return mask | (empty & first)


def causal_rows_mask(valid: torch.Tensor) -> torch.Tensor:
    """[n, T, T] for right-padded rows `valid` [n, T]: causal within each row, padding
    keys hidden."""
    return no_empty_rows(causal_mask(valid.shape[1], valid.device)[None] & valid[:, None, :])


@dataclass
class GatherBlock:
    """Stream rows that attend to their own key rows: one dense attention call. Padding
    (index 0) is masked out and its outputs are dropped."""

    rows: torch.Tensor  # [n, T] flat indices of the query tokens
    valid: torch.Tensor  # [n, T]
    keys: torch.Tensor  # [n, S] flat indices of the keys each row group may see
    mask: torch.Tensor  # [n, T, S]


@dataclass
class MultiItemLayout:
    """A packed batch flattened into one stream of `total` tokens (batch dimension 1),
    with the multi-item rule in two equivalent forms: gather blocks (each prefix against
    itself; items, in length buckets, against their prefix and themselves) and per-token
    arrays for backends that evaluate the rule pointwise."""

    batch: PackedBatch
    total: int
    input_ids: torch.Tensor  # [1, total]
    position_ids: torch.Tensor  # [1, total]
    blocks: list[GatherBlock]
    score_index: torch.Tensor  # [n_items] flat index of each item's last token, in plan order
    token_sequence: torch.Tensor  # [total] sequence number
    token_in_prefix: torch.Tensor  # [total] bool
    token_pos_in_item: torch.Tensor  # [total] 1..L in items, 0 at delimiters and in prefixes
    backend_state: dict = field(default_factory=dict)  # what a backend plans once per batch

    @classmethod
    def build(cls, batch: PackedBatch, device) -> "MultiItemLayout":
        ids, positions, prefixes, items, owners, scores = [], [], [], [], [], []
        token_sequence, token_in_prefix, token_pos = [], [], []
        start = 0
        for s, seq in enumerate(batch.sequences):
            ids += seq.input_ids
            positions += seq.position_ids
            prefixes.append(list(range(start, start + seq.prefix_len)))
            for span, row in zip(seq.item_spans, seq.score_rows):
                items.append(list(range(start + span.start, start + span.stop)))
                owners.append(s)
                scores.append(start + row)
            token_sequence += [s] * len(seq)
            token_in_prefix += [True] * seq.prefix_len + [False] * (len(seq) - seq.prefix_len)
            token_pos += [0] * seq.prefix_len + seq.pos_in_item
            start += len(seq)
        prefix_index, prefix_valid = padded_rows(prefixes, device)
        blocks = [GatherBlock(prefix_index, prefix_valid, prefix_index, causal_rows_mask(prefix_valid))]
        for chosen in length_buckets([len(item) for item in items]):
            item_index, item_valid = padded_rows([items[i] for i in chosen], device)
            owner = torch.tensor([owners[i] for i in chosen], dtype=torch.long, device=device)
            own = causal_mask(item_index.shape[1], device)[None] & item_valid[:, None, :]
            sees_prefix = prefix_valid[owner][:, None, :].expand(-1, item_index.shape[1], -1)
            mask = no_empty_rows(torch.cat([sees_prefix, own], dim=2))
            blocks.append(GatherBlock(item_index, item_valid, torch.cat([prefix_index[owner], item_index], dim=1), mask))
        as_long = lambda values: torch.tensor(values, dtype=torch.long, device=device)  # noqa: E731
        return cls(
            batch, start, as_long(ids)[None], as_long(positions)[None], blocks, as_long(scores),
            as_long(token_sequence), torch.tensor(token_in_prefix, device=device), as_long(token_pos),
        )

    def allowed(self, q_idx: torch.Tensor, kv_idx: torch.Tensor) -> torch.Tensor:
        """The multi-item rule pointwise: same sequence, causal, and either side in the
        prefix or the key inside the query token's own item."""
        same = self.token_sequence[q_idx] == self.token_sequence[kv_idx]
        visible = self.token_in_prefix[kv_idx] | self.token_in_prefix[q_idx] | (q_idx - kv_idx < self.token_pos_in_item[q_idx])
        return same & (kv_idx <= q_idx) & visible


@dataclass
class PrefixCaptureLayout:
    """The batch's query prefixes as right-padded rows [n_seq, P], one per sequence; each
    layer's keys and values are kept."""

    input_ids: torch.Tensor  # [n_seq, P], padded with the pad id
    position_ids: torch.Tensor  # [n_seq, P]
    valid: torch.Tensor  # [n_seq, P]
    mask: torch.Tensor  # [n_seq, P, P]
    keys: dict[int, torch.Tensor] = field(default_factory=dict)  # layer -> [n_seq, Hkv, P, D]
    values: dict[int, torch.Tensor] = field(default_factory=dict)

    @classmethod
    def build(cls, batch: PackedBatch, pad_id: int, device) -> "PrefixCaptureLayout":
        ids, valid = padded_rows([seq.input_ids[: seq.prefix_len] for seq in batch.sequences], device)
        positions = torch.arange(ids.shape[1], device=device).expand(len(batch.sequences), -1)
        return cls(ids.masked_fill(~valid, pad_id), positions, valid, causal_rows_mask(valid))


@dataclass
class PrefixItemsLayout:
    """Items as right-padded rows [n, L], each owned by one captured prefix; item token t
    sits at position prefix_len + t - 1, as in the packed sequence."""

    prefixes: PrefixCaptureLayout
    batch_items: torch.Tensor  # [n] place of each row among the batch's items, in plan order
    owner: torch.Tensor  # [n] prefix row of each item
    input_ids: torch.Tensor  # [n, L], padded with the pad id
    position_ids: torch.Tensor  # [n, L]
    last_token: torch.Tensor  # [n] column of each item's last token
    prefix_mask: torch.Tensor  # [n, L, P]
    own_mask: torch.Tensor  # [n, L, L]


def prefix_item_layouts(prefixes: PrefixCaptureLayout, batch: PackedBatch, pad_id: int, device) -> Iterator[PrefixItemsLayout]:
    """The batch's items in length buckets, one layout (one forward pass) per bucket."""
    items, owner, starts = [], [], []
    for row, seq in enumerate(batch.sequences):
        for span in seq.item_spans:
            items.append(seq.input_ids[span.start : span.stop])
            owner.append(row)
            starts.append(seq.prefix_len)
    for chosen in length_buckets([len(item) for item in items]):
        ids, valid = padded_rows([items[i] for i in chosen], device)
        width = ids.shape[1]
        positions = torch.tensor([starts[i] for i in chosen], device=device)[:, None] + torch.arange(width, device=device)[None]
        owners = torch.tensor([owner[i] for i in chosen], device=device)
        yield PrefixItemsLayout(
            prefixes, torch.tensor(chosen, device=device), owners, ids.masked_fill(~valid, pad_id), positions, valid.sum(dim=1) - 1,
            prefixes.valid[owners][:, None, :].expand(-1, width, -1), causal_rows_mask(valid),
        )
