"""Attention backends, registered by name (`--backend` of the server and the benchmark):
each computes the multi-item attention of a `MultiItemLayout` and masked attention with
its log-sum-exp (the prefix mode's two halves). `torch` (SDPA and plain matmuls) is the
CPU default and the reference; `flex` is torch's flex_attention; `flashinfer` and
`flashinfer-fa3` are FlashInfer's paged prefill kernels, imported only when chosen.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from serving.attention.layouts import MultiItemLayout


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


def repeat_kv(states: torch.Tensor, heads: int) -> torch.Tensor:
    """Grouped key/value heads repeated to `heads` query heads."""
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
        scores = (query.float() @ repeat_kv(key, heads).float().transpose(-1, -2)) * scaling
        scores = scores.masked_fill(~mask[:, None], float("-inf"))
        lse = torch.logsumexp(scores, dim=-1)
        weights = torch.exp(scores - lse[..., None]).nan_to_num(0.0)
        return (weights @ repeat_kv(value, heads).float()).to(query.dtype), lse


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
    reused by every layer. `variant` picks FlashInfer's fa2 or fa3 kernels."""

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
            sequences = layout.batch.sequences
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
