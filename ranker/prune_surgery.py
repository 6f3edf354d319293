"""Cutting a ranker in place: MLP neurons chosen from calibration statistics, whole layers.

The decoder families here keep their layers in `model.layers[i]` with
`mlp.{gate,up,down}_proj`. MLP pruning goes layer by layer, bottom up, so each layer is
calibrated on the inputs the already pruned layers below it produce: the down
projection's inputs on calibration prompts (padding masked) are streamed into
H = X^T X, a `ranker.osscar` selector picks the kept neurons and refits `down_proj`, and
the matching rows of `gate_proj`/`up_proj` are sliced. The selection maths is in
`ranker.osscar`; this file holds the hooks and the slicing.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from ranker.osscar import NEURON_SELECTORS
from ranker.scoring import Ranker, left_pad, padded_position_ids
from jobdata import Dataset

log = logging.getLogger(__name__)

SUPPORTED_FAMILIES = ("llama", "mistral", "qwen2", "qwen3")


def check_family(config) -> None:
    if config.model_type not in SUPPORTED_FAMILIES:
        raise ValueError(f"model family {config.model_type!r} is not supported for pruning; supported: {', '.join(SUPPORTED_FAMILIES)}")


def layers_of(model) -> torch.nn.ModuleList:
    return model.model.layers


def parameter_count(model) -> int:
    return sum(p.numel() for p in model.parameters())


def layer_parameter_count(model) -> int:
    """Parameters in the decoder layers: what pruning can remove (embeddings stay)."""
    return sum(p.numel() for p in layers_of(model).parameters())


# --- calibration ----------------------------------------------------------------------


def calibration_batches(ranker: Ranker, dataset: Dataset, pairs: int, batch_size: int, seed: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Left-padded batches of `pairs` training (query, item) prompts in the ranker's
    template, drawn with a fixed seed."""
    candidates = [(q.text, dataset.items[r.item_id].text) for q in dataset.queries_in("train") for r in dataset.candidates(q.query_id)]
    if not candidates:
        raise ValueError("no calibration data: the data directory has no training query with candidates")
    chosen = random.Random(seed).sample(candidates, min(pairs, len(candidates)))
    sequences, _ = ranker.encode_pairs(chosen)
    sequences.sort(key=len)  # similar lengths share a batch: little padding
    return [left_pad(sequences[i : i + batch_size], ranker.pad_id) for i in range(0, len(sequences), batch_size)]


class _StopForward(Exception):
    """Raised by a hook once the layer being calibrated has run: the rest is not needed."""


def _run_until(model, layer: torch.nn.Module, batches, on_batch) -> None:
    """Run the calibration batches through the model, stopping each after `layer`."""

    def stop(*_):
        raise _StopForward

    handle = layer.register_forward_hook(stop)
    try:
        for input_ids, attention_mask in batches:
            on_batch(attention_mask)
            try:
                model(input_ids=input_ids.to(model.device), attention_mask=attention_mask.to(model.device), position_ids=padded_position_ids(attention_mask).to(model.device), use_cache=False, logits_to_keep=1)
            except _StopForward:
                pass
    finally:
        handle.remove()


@torch.no_grad()
def down_proj_hessian(model, layer_index: int, batches) -> torch.Tensor:
    """H = X^T X over the real (unpadded) tokens of the down projection's inputs, float64;
    memory: one [d_ff, d_ff] matrix plus one batch of activations."""
    layer = layers_of(model)[layer_index]
    state = {"mask": None, "H": None}

    def accumulate(_module, args):
        x = args[0][state["mask"].to(args[0].device).bool()].double()
        state["H"] = x.T @ x if state["H"] is None else state["H"] + x.T @ x

    handle = layer.mlp.down_proj.register_forward_pre_hook(accumulate)
    try:
        _run_until(model, layer, batches, lambda mask: state.update(mask=mask))
    finally:
        handle.remove()
    return state["H"]


# --- neurons --------------------------------------------------------------------------


def _slice_linear(linear: torch.nn.Linear, rows: torch.Tensor | None = None, weight: torch.Tensor | None = None) -> None:
    with torch.no_grad():
        if rows is not None:
            linear.weight = torch.nn.Parameter(linear.weight[rows].clone())
            if linear.bias is not None:
                linear.bias = torch.nn.Parameter(linear.bias[rows].clone())
            linear.out_features = linear.weight.shape[0]
        if weight is not None:
            linear.weight = torch.nn.Parameter(weight.to(linear.weight.dtype).contiguous())
            linear.in_features = linear.weight.shape[1]


@dataclass
class LayerPruning:
    layer: int
    kept: int
    error: float  # relative reconstruction error of the layer's MLP output


def prune_mlp(model, keep: int, method: str, batches, damp: float = 0.01, swap_rounds: int = 8) -> list[LayerPruning]:
    """Prune every layer's MLP to `keep` neurons in place, bottom up, with the selector
    `method` names (`ranker.osscar.NEURON_SELECTORS`); `intermediate_size` becomes `keep`."""
    results = []
    for index in tqdm(range(len(layers_of(model))), desc=f"{method} MLP pruning", unit="layer"):
        mlp = layers_of(model)[index].mlp
        hessian = down_proj_hessian(model, index, batches)
        options = {"damp": damp, "swap_rounds": swap_rounds} if method == "osscar" else {}
        selection = NEURON_SELECTORS[method](mlp.down_proj.weight.detach(), hessian, keep, **options)
        rows = selection.kept.to(mlp.gate_proj.weight.device)
        _slice_linear(mlp.gate_proj, rows=rows)
        _slice_linear(mlp.up_proj, rows=rows)
        _slice_linear(mlp.down_proj, weight=selection.weight.to(mlp.down_proj.weight.device))
        results.append(LayerPruning(index, keep, selection.error))
        log.info("layer %d: kept %d neurons, relative reconstruction error %.4g", index, keep, selection.error)
    model.config.intermediate_size = keep
    return results


# --- layers ---------------------------------------------------------------------------


def remove_layers(model, indices: list[int]) -> None:
    """Delete decoder layers in place and renumber what depends on layer positions."""
    drop = set(indices)
    kept = [layer for i, layer in enumerate(layers_of(model)) if i not in drop]
    model.model.layers = torch.nn.ModuleList(kept)
    for new_index, layer in enumerate(kept):
        layer.self_attn.layer_idx = new_index
    config = model.config
    if getattr(config, "layer_types", None):
        config.layer_types = [t for i, t in enumerate(config.layer_types) if i not in drop]
    config.num_hidden_layers = len(kept)
