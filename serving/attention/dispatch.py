"""The attention function the scoring engine registers in transformers' attention
registry (`SCORING_ATTENTION`). The engine runs the model with `scoring_layout` and
`scoring_backend` keywords, which transformers passes down to every attention call; the
layout's type picks the computation of the current pass.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from serving.attention.backends import AttentionBackend
from serving.attention.layouts import MultiItemLayout, PrefixCaptureLayout, PrefixItemsLayout

SCORING_ATTENTION = "rlsum_scoring"


def merge_by_lse(out_a, lse_a, out_b, lse_b) -> torch.Tensor:
    """Combine two attentions over disjoint key sets ([B, H, T, D] with [B, H, T]) into
    attention over their union."""
    lse = torch.logaddexp(lse_a, lse_b)
    weight_a = torch.exp(lse_a - lse).nan_to_num(0.0)[..., None]
    weight_b = torch.exp(lse_b - lse).nan_to_num(0.0)[..., None]
    return (weight_a * out_a.float() + weight_b * out_b.float()).to(out_a.dtype)


def multi_item_attention(layer: int, query, key, value, layout: MultiItemLayout, backend: AttentionBackend, scaling: float) -> torch.Tensor:
    return backend.multi_item(query, key, value, layout, scaling)


def prefix_capture_attention(layer: int, query, key, value, layout: PrefixCaptureLayout, backend: AttentionBackend, scaling: float) -> torch.Tensor:
    """Causal attention of the prefixes (SDPA whatever the backend), keeping this layer's
    keys and values for the item passes."""
    layout.keys[layer], layout.values[layer] = key, value
    out = F.scaled_dot_product_attention(query, key, value, attn_mask=layout.mask[:, None], scale=scaling, enable_gqa=True)
    return out.transpose(1, 2)


def prefix_items_attention(layer: int, query, key, value, layout: PrefixItemsLayout, backend: AttentionBackend, scaling: float) -> torch.Tensor:
    """Items against their prefix's captured keys and against themselves, merged."""
    prefixes, owner = layout.prefixes, layout.owner
    out_p, lse_p = backend.attention_with_lse(query, prefixes.keys[layer][owner], prefixes.values[layer][owner], layout.prefix_mask, scaling)
    out_s, lse_s = backend.attention_with_lse(query, key, value, layout.own_mask, scaling)
    return merge_by_lse(out_p, lse_p, out_s, lse_s).transpose(1, 2)


ATTENTION_BY_LAYOUT = {
    MultiItemLayout: multi_item_attention,
    PrefixCaptureLayout: prefix_capture_attention,
    PrefixItemsLayout: prefix_items_attention,
}


def scoring_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, scoring_layout=None, scoring_backend: AttentionBackend | None = None, **kwargs):
    """transformers attention function: dispatches on the layout of the current pass."""
    attend = ATTENTION_BY_LAYOUT.get(type(scoring_layout))
    if attend is None:
        raise ValueError(f"attention '{SCORING_ATTENTION}' needs a scoring_layout, got {type(scoring_layout).__name__}")
    scaling = scaling if scaling is not None else 1.0 / math.sqrt(query.shape[-1])
    return attend(module.layer_idx, query, key, value, scoring_layout, scoring_backend, scaling), None


def register_scoring_attention() -> None:
    from transformers import AttentionInterface

    AttentionInterface.register(SCORING_ATTENTION, scoring_attention)
