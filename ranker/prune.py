"""Compress a ranker: OSSCAR pruning of MLP neurons, removal of whole layers, recovery.

    python -m ranker.prune --model PATH --data DIR --out PATH --mlp-keep 0.5 --drop-layers 2 \\
        [--method osscar|magnitude] [--layer-criterion ndcg|block-influence] [--recover distill|sft|none]

1. MLP pruning, layer by layer with the layers above already pruned: the down projection's
   inputs on calibration prompts (training queries and items in the ranker's template,
   padding masked) are streamed into H = X^T X; `ranker.osscar` picks the kept neurons
   and refits `down_proj`; the matching rows of `gate_proj`/`up_proj` are sliced.
   `intermediate_size` becomes the same kept count in every layer.
2. Layer removal: a drop-one table (NDCG@10 change on the validation split when each
   single layer is removed), then greedy removal of K layers, re-measured after each.
   `--layer-criterion block-influence` ranks layers instead by 1 - cos(input, output) of
   their hidden states on the calibration prompts (cheap, for large models).
3. Recovery with `ranker.train`: distillation from the unpruned model's P(Yes) or SFT on
   the labels.
4. OUT holds a plain `save_pretrained` checkpoint (tokenizer and template beside it) that
   transformers, the ranker and the scoring server load with no extra package, plus
   `prune_report.json` and `prune_report.md`: parameters, NDCG@10 before, after pruning and
   after recovery, the sensitivity table and per-layer reconstruction errors. Scoring
   throughput before and after is the serving layer's job: `python -m serving.prune_speedup
   --pruned OUT` measures both in one run and adds them to the report.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from ranker.cli import run_cli
from ranker.evaluate import evaluate_ranker
from ranker.osscar import NEURON_SELECTORS
from ranker.scoring import Ranker, left_pad, load_ranker, padded_position_ids
from jobdata import Dataset, load_dataset, write_json, write_text

log = logging.getLogger(__name__)

# Decoder families whose layers are `model.layers[i]` with `mlp.{gate,up,down}_proj`.
SUPPORTED_FAMILIES = ("llama", "mistral", "qwen2", "qwen3")


class _StopForward(Exception):
    """Raised by a hook once the layer being calibrated has run: the rest is not needed."""


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


# --- surgery ----------------------------------------------------------------------------


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
    """Prune every layer's MLP to `keep` neurons in place, bottom up."""
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


# --- layer selection ----------------------------------------------------------------------


def ndcg_without(ranker: Ranker, subset: Dataset, split: str, layer: int | None, batch_size: int) -> float:
    """Validation NDCG@10 with one layer left out (None: all layers)."""
    layers = layers_of(ranker.model)
    if layer is not None:
        ranker.model.model.layers = torch.nn.ModuleList([l for i, l in enumerate(layers) if i != layer])
    try:
        return evaluate_ranker(ranker, subset, split=split, batch_size=batch_size)["ndcg@10"]
    finally:
        ranker.model.model.layers = layers


def choose_layers(ranker: Ranker, subset: Dataset, split: str, count: int, criterion: str, batches, batch_size: int) -> tuple[list[int], list[dict], float]:
    """Greedy removal of `count` layers, re-measured after each. Returns the removed
    layers (original indices), the drop-one table of the full model (original indices)
    and the baseline NDCG@10."""
    baseline = ndcg_without(ranker, subset, split, None, batch_size)
    original = list(range(len(layers_of(ranker.model))))
    table = []
    removed: list[int] = []
    for step in range(max(count, 1)):
        remaining = [i for i in original if i not in removed]
        if criterion == "ndcg":
            scores = [ndcg_without(ranker, subset, split, position, batch_size) for position in tqdm(range(len(remaining)), desc=f"drop-one sensitivity, step {step + 1}", unit="layer")]
            best = int(np.argmax(scores))
        else:
            scores = block_influence(ranker.model, batches)
            best = int(np.argmin(scores))
        if step == 0:
            table = [{"layer": i, "ndcg@10" if criterion == "ndcg" else "block_influence": s, **({"ndcg_change": s - baseline} if criterion == "ndcg" else {})} for i, s in zip(original, scores)]
        if count == 0:
            break
        removed.append(remaining[best])
        remove_layers(ranker.model, [best])
        log.info("removed layer %d (original index), %d left", remaining[best], len(remaining) - 1)
    return removed, table, baseline


# --- the command ----------------------------------------------------------------------------


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="ranker model directory (Llama/Qwen family)")
    parser.add_argument("--data", required=True, help="data directory: train split for calibration and recovery, val for sensitivity, test for the report")
    parser.add_argument("--out", required=True, help="directory for the pruned model and its report")
    keep = parser.add_mutually_exclusive_group()
    keep.add_argument("--mlp-keep", type=float, default=1.0, help="share of MLP neurons kept per layer, in (0, 1]")
    keep.add_argument("--mlp-keep-neurons", type=int, help="MLP neurons kept per layer")
    parser.add_argument("--drop-layers", type=int, default=0, help="decoder layers to remove")
    parser.add_argument("--method", default="osscar", choices=sorted(NEURON_SELECTORS))
    parser.add_argument("--layer-criterion", default="ndcg", choices=["ndcg", "block-influence"])
    parser.add_argument("--calib-pairs", type=int, default=256, help="calibration prompts")
    parser.add_argument("--damp", type=float, default=0.01, help="Hessian dampening, share of its mean diagonal")
    parser.add_argument("--swap-rounds", type=int, default=8, help="OSSCAR local-search swaps per layer")
    parser.add_argument("--sensitivity-split", default="val")
    parser.add_argument("--sensitivity-queries", type=int, default=60)
    parser.add_argument("--recover", default="distill", choices=["distill", "sft", "none"])
    parser.add_argument("--recover-epochs", type=float, default=1.0)
    parser.add_argument("--recover-lr", type=float, default=1e-3)
    parser.add_argument("--max-length", type=int, default=256, help="max tokens per pair for calibration, evaluation and recovery")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--report-split", default="test")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def check_args(args, config) -> int:
    """Everything that can fail before work starts; returns the kept neuron count."""
    check_family(config)
    if args.mlp_keep_neurons is not None:
        if not 0 < args.mlp_keep_neurons <= config.intermediate_size:
            raise ValueError(f"--mlp-keep-neurons must be in 1..{config.intermediate_size} (the model's intermediate_size), got {args.mlp_keep_neurons}")
        keep = args.mlp_keep_neurons
    else:
        if not 0 < args.mlp_keep <= 1:
            raise ValueError(f"--mlp-keep must be in (0, 1], got {args.mlp_keep}")
        keep = max(1, round(args.mlp_keep * config.intermediate_size))
    if not 0 <= args.drop_layers < config.num_hidden_layers:
        raise ValueError(f"--drop-layers must be in 0..{config.num_hidden_layers - 1} (the model has {config.num_hidden_layers} layers), got {args.drop_layers}")
    if args.calib_pairs < 1:
        raise ValueError(f"--calib-pairs must be at least 1, got {args.calib_pairs}")
    return keep


def save_ranker(ranker: Ranker, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    ranker.model.save_pretrained(out)
    ranker.tokenizer.save_pretrained(out)
    ranker.template.save(out)


def main(argv=None) -> dict:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from transformers import AutoConfig

    if not (Path(args.model) / "config.json").exists():
        raise FileNotFoundError(f"{args.model}: not a model directory (no config.json)")
    keep = check_args(args, AutoConfig.from_pretrained(args.model))
    dataset = load_dataset(args.data)
    torch.manual_seed(args.seed)
    out = Path(args.out)
    started = time.time()

    ranker = load_ranker(args.model, max_length=args.max_length)
    batches = calibration_batches(ranker, dataset, args.calib_pairs, args.batch_size, args.seed)
    report: dict = {"model": args.model, "method": args.method, "mlp_keep_neurons": keep, "drop_layers": args.drop_layers, "layer_criterion": args.layer_criterion}
    report["params_before"], report["layer_params_before"] = parameter_count(ranker.model), layer_parameter_count(ranker.model)
    report["ndcg_before"] = evaluate_ranker(ranker, dataset, args.report_split, batch_size=args.batch_size * 2)["ndcg@10"]
    log.info("test NDCG@10 before pruning: %.4f", report["ndcg_before"])

    # Layers first, on the dense model: the sensitivity table describes the model as given.
    subset = dataset.only_split(args.sensitivity_split, args.sensitivity_queries)
    removed, table, baseline = choose_layers(ranker, subset, args.sensitivity_split, args.drop_layers, args.layer_criterion, batches, args.batch_size * 2)
    report.update(removed_layers=removed, sensitivity=table, sensitivity_baseline=baseline)
    report["mlp"] = [vars(r) for r in prune_mlp(ranker.model, keep, args.method, batches, args.damp, args.swap_rounds)] if keep < ranker.model.config.intermediate_size else []
    report["params_after"], report["layer_params_after"] = parameter_count(ranker.model), layer_parameter_count(ranker.model)
    report["ndcg_pruned"] = evaluate_ranker(ranker, dataset, args.report_split, batch_size=args.batch_size * 2)["ndcg@10"]
    log.info("test NDCG@10 after pruning, before recovery: %.4f", report["ndcg_pruned"])

    if args.recover == "none":
        save_ranker(ranker, out)
        report["ndcg_after"] = report["ndcg_pruned"]
    else:
        from ranker.train import main as train

        unrecovered = out / "unrecovered"
        save_ranker(ranker, unrecovered)
        teacher = ["--teacher", args.model] if args.recover == "distill" else ["--graded-targets"]
        train(["--data", args.data, "--model", str(unrecovered), "--out", str(out), *teacher, "--epochs", str(args.recover_epochs), "--lr", str(args.recover_lr),
               "--max-length", str(args.max_length), "--batch-size", str(args.batch_size), "--eval-split", "", "--seed", str(args.seed)])
        report["ndcg_after"] = evaluate_ranker(load_ranker(out, max_length=args.max_length), dataset, args.report_split, batch_size=args.batch_size * 2)["ndcg@10"]
    report["recovery"] = args.recover
    log.info("test NDCG@10 after recovery (%s): %.4f", args.recover, report["ndcg_after"])
    report["seconds"] = round(time.time() - started, 1)
    write_report(out, report)
    print(json.dumps({k: v for k, v in report.items() if k not in ("sensitivity", "mlp")}))
    return report


ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth")


def layer_name(index: int, count: int) -> str:
    """"first layer" ... "last layer", the way sensitivity tables are usually read."""
    if index == count - 1:
        return f"last layer ({index})"
    return f"{ORDINALS[index]} layer" if index < len(ORDINALS) else f"layer {index}"


def write_report(out: Path, report: dict) -> None:
    write_json(out / "prune_report.json", report)
    lines = [
        f"# Pruning report: {report['model']}",
        "",
        f"MLP: {report['method']}, {report['mlp_keep_neurons']} neurons kept per layer; layers removed: {report['removed_layers'] or 'none'} ({report['layer_criterion']}); recovery: {report['recovery']}.",
        "",
        "| | params | in decoder layers | test NDCG@10 |",
        "| --- | --- | --- | --- |",
        f"| before | {report['params_before']:,} | {report['layer_params_before']:,} | {report['ndcg_before']:.4f} |",
        f"| pruned, no recovery | {report['params_after']:,} | {report['layer_params_after']:,} | {report['ndcg_pruned']:.4f} ({report['ndcg_pruned'] - report['ndcg_before']:+.4f}) |",
        f"| pruned + {report['recovery']} | {report['params_after']:,} | {report['layer_params_after']:,} | {report['ndcg_after']:.4f} ({report['ndcg_after'] - report['ndcg_before']:+.4f}) |",
        "",
    ]
    if "speedup" in report:
        lines += [f"Scoring throughput (serving benchmark, mis, same requests and run): {report['items_per_s_before']:.0f} -> {report['items_per_s_after']:.0f} items/s ({report['speedup']:.2f}x).", ""]
    if report["sensitivity"]:
        value = "ndcg_change" if "ndcg_change" in report["sensitivity"][0] else "block_influence"
        lines += [f"Layer sensitivity (drop one layer; {value.replace('_', ' ')}):", "", "| layer removed | " + value + " |", "| --- | --- |"]
        lines += [f"| {layer_name(row['layer'], len(report['sensitivity']))} | {row[value]:+.4f} |" for row in report["sensitivity"]]
        lines.append("")
    if report["mlp"]:
        lines += ["MLP reconstruction error per layer (relative):", "", "| layer | error |", "| --- | --- |"]
        lines += [f"| {row['layer']} | {row['error']:.4g} |" for row in report["mlp"]]
    write_text(out / "prune_report.md", "\n".join(lines) + "\n")


if __name__ == "__main__":
    run_cli(main)
