"""Attention backends for scoring, swapped into any HF causal LM through transformers'
attention-function registry.

The engine registers one attention function (`SCORING_ATTENTION`) and runs the model with
a `scoring_layout` keyword that transformers passes down to every attention call. The
layout, built once per batch from the planner's output, says what to compute:

- `MultiItemLayout`: the packed multi-item stream (see `serving.plan`): each item attends
  to its sequence's query prefix and to itself, causally; nothing attends to delimiters.
- `PrefixCaptureLayout`: the query prefixes alone, causally; their keys and values are
  kept per layer for the item pass.
- `PrefixItemsLayout`: items as padded rows that attend to their prefix's captured keys
  and to themselves; the two attention results are merged by log-sum-exp.

Backends, registered by name, implement the multi-item attention and attention with its
log-sum-exp; `torch` (SDPA and plain matmuls) is the CPU default and the reference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn.functional as F

from serving.plan import PackedBatch

SCORING_ATTENTION = "rlsum_scoring"


# --- layouts: the plan as index tensors, built once per batch ---------------------------


def _padded(rows: list[list[int]], device) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded index matrix (pad 0) and its validity mask."""
    width = max((len(r) for r in rows), default=0)
    index = torch.zeros((len(rows), max(width, 1)), dtype=torch.long)
    valid = torch.zeros((len(rows), max(width, 1)), dtype=torch.bool)
    for i, row in enumerate(rows):
        index[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        valid[i, : len(row)] = True
    return index.to(device), valid.to(device)


def _causal(n: int, device) -> torch.Tensor:
    return torch.ones((n, n), dtype=torch.bool, device=device).tril()


def _no_empty_rows(mask: torch.Tensor) -> torch.Tensor:
    """Let rows with no visible key (padding) see key 0, so softmax stays finite; their
    outputs are never read."""
    empty = ~mask.any(dim=-1, keepdim=True)
    first = torch.zeros_like(mask)
    first[..., 0] = True
    return mask | (empty & first)


@dataclass
class GatherBlock:
    """Stream rows that attend to their own key rows: one dense attention call. Padding
    (index 0) is masked out and its outputs are dropped."""

    rows: torch.Tensor  # [n, T] flat indices of the query tokens
    valid: torch.Tensor  # [n, T]
    keys: torch.Tensor  # [n, S] flat indices of the keys each row group may see
    mask: torch.Tensor  # [n, T, S]


# Items sorted by length and cut into blocks of this many keep padding small.
ITEMS_PER_BLOCK = 16


@dataclass
class MultiItemLayout:
    """A packed batch flattened into one stream of `total` tokens (batch dimension 1),
    with the multi-item rule in two equivalent forms: gather blocks (each prefix against
    itself; items, in length buckets, against their prefix and themselves) and per-token
    arrays for backends that evaluate the rule pointwise."""

    sequences: PackedBatch
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
            for row in seq.score_rows:
                length = seq.pos_in_item[row - seq.prefix_len]
                items.append(list(range(start + row - length + 1, start + row + 1)))
                owners.append(s)
                scores.append(start + row)
            token_sequence += [s] * len(seq)
            token_in_prefix += [True] * seq.prefix_len + [False] * (len(seq) - seq.prefix_len)
            token_pos += [0] * seq.prefix_len + seq.pos_in_item
            start += len(seq)
        prefix_index, prefix_valid = _padded(prefixes, device)
        prefix_mask = _causal(prefix_index.shape[1], device)[None] & prefix_valid[:, None, :]
        blocks = [GatherBlock(prefix_index, prefix_valid, prefix_index, _no_empty_rows(prefix_mask))]
        by_length = sorted(range(len(items)), key=lambda i: len(items[i]))
        for first in range(0, len(by_length), ITEMS_PER_BLOCK):
            chosen = by_length[first : first + ITEMS_PER_BLOCK]
            item_index, item_valid = _padded([items[i] for i in chosen], device)
            owner = torch.tensor([owners[i] for i in chosen], dtype=torch.long, device=device)
            own = _causal(item_index.shape[1], device)[None] & item_valid[:, None, :]
            sees_prefix = prefix_valid[owner][:, None, :].expand(-1, item_index.shape[1], -1)
            mask = _no_empty_rows(torch.cat([sees_prefix, own], dim=2))
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
    """Query prefixes as right-padded rows; each layer's keys and values are kept."""

    valid: torch.Tensor  # [n_seq, P]
    keys: dict[int, torch.Tensor] = field(default_factory=dict)  # layer -> [n_seq, Hkv, P, D]
    values: dict[int, torch.Tensor] = field(default_factory=dict)


@dataclass
class PrefixItemsLayout:
    """Items as right-padded rows [n_items, L], each owned by one captured prefix."""

    prefixes: PrefixCaptureLayout
    owner: torch.Tensor  # [n_items] prefix row of each item
    valid: torch.Tensor  # [n_items, L]


# --- backends -------------------------------------------------------------------------


class AttentionBackend:
    """What a scoring backend computes. Tensors are [batch, heads, tokens, head_dim], keys
    and values possibly with fewer (grouped) heads; outputs are [batch, tokens, heads,
    head_dim] as transformers expects."""

    name: str

    def multi_item(self, query, key, value, layout: MultiItemLayout, scaling: float) -> torch.Tensor:
        raise NotImplementedError

    def attention_with_lse(self, query, key, value, mask: torch.Tensor, scaling: float) -> tuple[torch.Tensor, torch.Tensor]:
        """Masked attention [B, H, T, D] and its log-sum-exp [B, H, T]; `mask` [B, T, S]."""
        raise NotImplementedError


ATTENTION_BACKENDS: dict[str, Callable[[], AttentionBackend]] = {}


def register_backend(name: str):
    def decorate(cls):
        cls.name = name
        ATTENTION_BACKENDS[name] = cls
        return cls

    return decorate


def get_backend(name: str) -> AttentionBackend:
    if name not in ATTENTION_BACKENDS:
        raise ValueError(f"unknown attention backend {name!r}; choose one of {sorted(ATTENTION_BACKENDS)}")
    return ATTENTION_BACKENDS[name]()


def _repeat_kv(states: torch.Tensor, heads: int) -> torch.Tensor:
    return states if states.shape[1] == heads else states.repeat_interleave(heads // states.shape[1], dim=1)


@register_backend("torch")
class TorchBackend(AttentionBackend):
    """SDPA on the layout's gather blocks: the packed stream's mask without its quadratic
    size (delimiter rows are left at zero: nothing reads them)."""

    def multi_item(self, query, key, value, layout: MultiItemLayout, scaling: float) -> torch.Tensor:
        q, k, v = query[0], key[0], value[0]  # [H, total, D]
        out = q.new_zeros(layout.total, q.shape[0], q.shape[-1])
        for block in layout.blocks:
            if not block.valid.any():
                continue
            attended = F.scaled_dot_product_attention(
                q[:, block.rows].transpose(0, 1), k[:, block.keys].transpose(0, 1), v[:, block.keys].transpose(0, 1),
                attn_mask=block.mask[:, None], scale=scaling, enable_gqa=True,
            )  # [n, H, T, D]
            out[block.rows[block.valid]] = attended.transpose(1, 2)[block.valid]
        return out[None]

    def attention_with_lse(self, query, key, value, mask, scaling):
        heads = query.shape[1]
        scores = (query.float() @ _repeat_kv(key, heads).float().transpose(-1, -2)) * scaling
        scores = scores.masked_fill(~mask[:, None], float("-inf"))
        lse = torch.logsumexp(scores, dim=-1)
        weights = torch.exp(scores - lse[..., None]).nan_to_num(0.0)
        return (weights @ _repeat_kv(value, heads).float()).to(query.dtype), lse


@register_backend("flex")
class FlexBackend(AttentionBackend):
    """torch flex_attention with a BlockMask of the multi-item rule (compiled on GPU;
    eager, slow but exact, on CPU)."""

    def __init__(self):
        from torch.nn.attention import flex_attention as flex

        self._flex = flex
        self._attend = torch.compile(flex.flex_attention, dynamic=True) if torch.cuda.is_available() else flex.flex_attention

    def _block_mask(self, layout: MultiItemLayout):
        if "flex_block_mask" not in layout.backend_state:
            device = layout.input_ids.device
            layout.backend_state["flex_block_mask"] = self._flex.create_block_mask(
                lambda b, h, q_idx, kv_idx: layout.allowed(q_idx, kv_idx), None, None, layout.total, layout.total, device=device
            )
        return layout.backend_state["flex_block_mask"]

    def multi_item(self, query, key, value, layout, scaling):
        out = self._attend(query, key, value, block_mask=self._block_mask(layout), scale=scaling, enable_gqa=query.shape[1] != key.shape[1])
        return out.transpose(1, 2)

    def attention_with_lse(self, query, key, value, mask, scaling):
        # mask [B, T, S] covers small per-item blocks, so a dense mask_mod lookup is cheap.
        block_mask = self._flex.create_block_mask(
            lambda b, h, q_idx, kv_idx: mask[b, q_idx, kv_idx], mask.shape[0], None, mask.shape[1], mask.shape[2], device=mask.device
        )
        out, aux = self._attend(
            query, key, value, block_mask=block_mask, scale=scaling, enable_gqa=query.shape[1] != key.shape[1],
            return_aux=self._flex.AuxRequest(lse=True),
        )
        # flex reports log-sum-exp in base e for the scaled scores, as the torch backend does.
        return out, aux.lse


@register_backend("flashinfer")
class FlashInferBackend(AttentionBackend):
    """FlashInfer's paged prefill with its multi-item mask (`prefix_len_ptr`,
    `token_pos_in_items_ptr`, `max_item_len_ptr`): the ragged wrapper ignores these in
    0.7.2, so keys and values are viewed as pages of one token. Planned once per batch,
    reused by every layer. `FLASHINFER_VARIANT` picks fa2 or fa3."""

    variant = "fa2"

    def __init__(self):
        try:
            import flashinfer
        except ImportError as error:
            raise ValueError("backend 'flashinfer' needs the flashinfer-python package (the 'gpu' extra) and a CUDA GPU") from error
        if not torch.cuda.is_available():
            raise ValueError("backend 'flashinfer' needs a CUDA GPU")
        self._flashinfer = flashinfer

    def _wrapper(self, layout: MultiItemLayout, query, key, scaling: float):
        state = layout.backend_state
        if "flashinfer" not in state:
            device = query.device
            sequences = layout.sequences.sequences
            lengths = torch.tensor([len(s) for s in sequences], dtype=torch.int32)
            indptr = torch.zeros(len(sequences) + 1, dtype=torch.int32)
            indptr[1:] = lengths.cumsum(0)
            pad_to = max(len(s.pos_in_item) for s in sequences)
            token_pos = torch.zeros((len(sequences), pad_to), dtype=torch.uint16)
            for i, s in enumerate(sequences):
                token_pos[i, : len(s.pos_in_item)] = torch.tensor(s.pos_in_item, dtype=torch.int32).to(torch.uint16)
            workspace = torch.empty(256 * 1024 * 1024, dtype=torch.uint8, device=device)
            wrapper = self._flashinfer.BatchPrefillWithPagedKVCacheWrapper(workspace, kv_layout="NHD", backend=self.variant)
            wrapper.plan(
                indptr.to(device), indptr.to(device), torch.arange(layout.total, dtype=torch.int32, device=device),
                torch.ones(len(sequences), dtype=torch.int32, device=device),
                query.shape[1], key.shape[1], query.shape[-1], 1,
                causal=True, sm_scale=scaling, q_data_type=query.dtype, kv_data_type=key.dtype,
                prefix_len_ptr=torch.tensor([s.prefix_len for s in sequences], dtype=torch.uint32, device=device),
                token_pos_in_items_ptr=token_pos.flatten().to(device),
                token_pos_in_items_len=pad_to,
                max_item_len_ptr=torch.tensor([s.max_item_len for s in sequences], dtype=torch.uint16, device=device),
            )
            state["flashinfer"] = wrapper
        return state["flashinfer"]

    def multi_item(self, query, key, value, layout, scaling):
        wrapper = self._wrapper(layout, query, key, scaling)
        q = query[0].transpose(0, 1).contiguous()  # [total, H, D]
        pages = lambda states: states[0].transpose(0, 1).unsqueeze(1).contiguous()  # noqa: E731  [total, 1, Hkv, D]
        out = wrapper.run(q, (pages(key), pages(value)))
        return out[None]

    def attention_with_lse(self, query, key, value, mask, scaling):
        # The prefix mode's two attentions are small dense blocks: the reference suffices.
        return TorchBackend().attention_with_lse(query, key, value, mask, scaling)


@register_backend("flashinfer-fa3")
class FlashInferFA3Backend(FlashInferBackend):
    variant = "fa3"


# --- the function transformers calls ----------------------------------------------------


def merge_by_lse(out_a, lse_a, out_b, lse_b) -> torch.Tensor:
    """Combine two attentions over disjoint key sets ([B, H, T, D] with [B, H, T]) into
    attention over their union."""
    lse = torch.logaddexp(lse_a, lse_b)
    weight_a = torch.exp(lse_a - lse).nan_to_num(0.0)[..., None]
    weight_b = torch.exp(lse_b - lse).nan_to_num(0.0)[..., None]
    return (weight_a * out_a.float() + weight_b * out_b.float()).to(out_a.dtype)


def scoring_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, scoring_layout=None, scoring_backend: AttentionBackend | None = None, **kwargs):
    """transformers attention function: dispatches on the layout of the current pass."""
    scaling = scaling if scaling is not None else 1.0 / math.sqrt(query.shape[-1])
    layout, backend = scoring_layout, scoring_backend
    if isinstance(layout, MultiItemLayout):
        return backend.multi_item(query, key, value, layout, scaling), None
    if isinstance(layout, PrefixCaptureLayout):
        layout.keys[module.layer_idx], layout.values[module.layer_idx] = key, value
        width = layout.valid.shape[1]
        mask = _no_empty_rows(_causal(width, query.device)[None] & layout.valid[:, None, :])
        out = F.scaled_dot_product_attention(query, key, value, attn_mask=mask[:, None], scale=scaling, enable_gqa=True)
        return out.transpose(1, 2), None
    if isinstance(layout, PrefixItemsLayout):
        prefixes = layout.prefixes
        owner = layout.owner
        width = layout.valid.shape[1]
        prefix_mask = prefixes.valid[owner][:, None, :].expand(-1, width, -1)
        out_p, lse_p = backend.attention_with_lse(query, prefixes.keys[module.layer_idx][owner], prefixes.values[module.layer_idx][owner], prefix_mask, scaling)
        own_mask = _no_empty_rows(_causal(width, query.device)[None] & layout.valid[:, None, :])
        out_s, lse_s = backend.attention_with_lse(query, key, value, own_mask, scaling)
        return merge_by_lse(out_p, lse_p, out_s, lse_s).transpose(1, 2), None
    raise ValueError(f"attention '{SCORING_ATTENTION}' needs a scoring_layout, got {type(layout).__name__}")


def register_scoring_attention() -> None:
    from transformers import AttentionInterface

    AttentionInterface.register(SCORING_ATTENTION, scoring_attention)
