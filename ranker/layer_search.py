"""Which decoder layers to remove: greedy, one at a time, each step re-measured on the
model with the layers chosen so far already removed.

A criterion scores every remaining layer and names the one to remove:
- `ndcg`: validation NDCG@10 of the model with that single layer left out; the layer
  whose absence scores highest goes. Its first pass is the drop-one sensitivity table.
- `block-influence`: 1 - cos(hidden state in, hidden state out) of the layer on the
  calibration prompts, how much it changes the residual stream; the lowest goes. It needs
  one forward pass per step instead of one evaluation per layer (for large models).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from ranker.evaluate import evaluate_ranker
from ranker.prune_surgery import layers_of, remove_layers
from ranker.scoring import Ranker, padded_position_ids
from jobdata import Dataset

log = logging.getLogger(__name__)


@dataclass
class LayerProbe:
    """What the criteria measure a ranker's layers on."""

    ranker: Ranker
    subset: Dataset  # the validation queries NDCG@10 is measured on
    split: str
    batches: list[tuple[torch.Tensor, torch.Tensor]]  # calibration prompts (block influence)
    batch_size: int


def ndcg_without(probe: LayerProbe, layer: int | None) -> float:
    """Validation NDCG@10 with one layer left out (None: all layers)."""
    model = probe.ranker.model
    layers = layers_of(model)
    if layer is not None:
        model.model.layers = torch.nn.ModuleList([l for i, l in enumerate(layers) if i != layer])
    try:
        return evaluate_ranker(probe.ranker, probe.subset, split=probe.split, batch_size=probe.batch_size)["ndcg@10"]
    finally:
        model.model.layers = layers


@torch.no_grad()
def block_influence(model, batches) -> list[float]:
    """Per layer, mean over real tokens of 1 - cos(hidden in, hidden out): how much the
    layer changes the residual stream (small: cheap to remove)."""
    layers = layers_of(model)
    totals, state = np.zeros(len(layers)), {"mask": None}

    def measure(index):
        def hook(_module, args, kwargs, output):
            before = (kwargs.get("hidden_states") if "hidden_states" in kwargs else args[0])[state["mask"]]
            after = (output[0] if isinstance(output, tuple) else output)[state["mask"]]
            totals[index] += (1 - torch.cosine_similarity(before.double(), after.double(), dim=-1)).sum().item()

        return hook

    handles = [layer.register_forward_hook(measure(i), with_kwargs=True) for i, layer in enumerate(layers)]
    tokens = 0
    try:
        for input_ids, attention_mask in batches:
            state["mask"] = attention_mask.to(model.device).bool()
            tokens += int(attention_mask.sum())
            model(input_ids=input_ids.to(model.device), attention_mask=attention_mask.to(model.device), position_ids=padded_position_ids(attention_mask).to(model.device), use_cache=False, logits_to_keep=1)
    finally:
        for handle in handles:
            handle.remove()
    return (totals / max(tokens, 1)).tolist()


# --- the criteria -----------------------------------------------------------------------


def drop_one_ndcg(probe: LayerProbe, step: int) -> list[float]:
    count = len(layers_of(probe.ranker.model))
    return [ndcg_without(probe, position) for position in tqdm(range(count), desc=f"drop-one sensitivity, step {step + 1}", unit="layer")]


def block_influence_of_layers(probe: LayerProbe, step: int) -> list[float]:
    return block_influence(probe.ranker.model, probe.batches)


def ndcg_row(score: float, baseline: float) -> dict:
    return {"ndcg@10": score, "ndcg_change": score - baseline}


def block_influence_row(score: float, baseline: float) -> dict:
    return {"block_influence": score}


@dataclass(frozen=True)
class LayerCriterion:
    scores: Callable[[LayerProbe, int], list[float]]  # one per remaining layer, at a step
    removed: Callable[[list[float]], int]  # the position of the layer to remove
    table_row: Callable[[float, float], dict]  # a layer's score (and the baseline) as its table entry


LAYER_CRITERIA = {
    "ndcg": LayerCriterion(drop_one_ndcg, np.argmax, ndcg_row),
    "block-influence": LayerCriterion(block_influence_of_layers, np.argmin, block_influence_row),
}


def choose_layers(ranker: Ranker, subset: Dataset, split: str, count: int, criterion: str, batches, batch_size: int) -> tuple[list[int], list[dict], float]:
    """Greedy removal of `count` layers from `ranker`, in place. Returns the removed
    layers (original indices), the criterion's table of the full model (original indices)
    and the baseline validation NDCG@10."""
    probe = LayerProbe(ranker, subset, split, batches, batch_size)
    rule = LAYER_CRITERIA[criterion]
    baseline = ndcg_without(probe, None)
    original = list(range(len(layers_of(ranker.model))))
    table = []
    removed: list[int] = []
    for step in range(max(count, 1)):  # with count 0, one pass for the table
        remaining = [i for i in original if i not in removed]
        scores = rule.scores(probe, step)
        if step == 0:
            table = [{"layer": i, **rule.table_row(s, baseline)} for i, s in zip(original, scores)]
        if count == 0:
            break
        best = int(rule.removed(scores))
        removed.append(remaining[best])
        remove_layers(ranker.model, [best])
        log.info("removed layer %d (original index), %d left", remaining[best], len(remaining) - 1)
    return removed, table, baseline
