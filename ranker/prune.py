"""Compress a ranker: OSSCAR pruning of MLP neurons, removal of whole layers, recovery.

    python -m ranker.prune --model PATH --data DIR --out PATH --mlp-keep 0.5 --drop-layers 2 \\
        [--method osscar|magnitude] [--layer-criterion ndcg|block-influence] [--recover distill|sft|none]

1. Layer removal first, on the dense model, so the table describes the model as given
   (`ranker.layer_search`): a drop-one table (NDCG@10 change on the validation split when
   each single layer is removed), then greedy removal of K layers, re-measured after each.
   `--layer-criterion block-influence` ranks layers instead by 1 - cos(input, output) of
   their hidden states on the calibration prompts (cheap, for large models).
2. MLP pruning (`ranker.prune_surgery`, selection maths in `ranker.osscar`), layer by
   layer with the layers below already pruned, on calibration prompts (training queries
   and items in the ranker's template). `intermediate_size` becomes the same kept count
   in every layer.
3. Recovery with `ranker.train`: distillation from the unpruned model's P(Yes) or SFT on
   the labels.
4. OUT holds a plain `save_pretrained` checkpoint (tokenizer and template beside it) that
   transformers, the ranker and the scoring server load with no extra package, plus
   `prune_report.json` and `prune_report.md` (`ranker.prune_report`): parameters, NDCG@10
   before, after pruning and after recovery, the sensitivity table and per-layer
   reconstruction errors. Scoring throughput before and after is the serving layer's job:
   `python -m serving.prune_speedup --pruned OUT` measures both in one run and adds them
   to the report. The last stdout line is the report as JSON, without its two tables.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import torch
from transformers import AutoConfig

from ranker.cli import run_cli
from ranker.evaluate import evaluate_ranker
from ranker.layer_search import LAYER_CRITERIA, choose_layers
from ranker.osscar import NEURON_SELECTORS
from ranker.prune_report import write_report
from ranker.prune_surgery import calibration_batches, check_family, layer_parameter_count, parameter_count, prune_mlp
from ranker.scoring import Ranker, load_ranker
from ranker.train import TrainOptions, train_ranker
from jobdata import Dataset, load_dataset, write_directory

log = logging.getLogger(__name__)


def distill_from_unpruned(args: argparse.Namespace) -> dict:
    return {"teacher": args.model}


def sft_on_graded_labels(args: argparse.Namespace) -> dict:
    return {"graded_targets": True}


# --recover NAME: the targets ranker.train fits the pruned model to.
RECOVERY_TARGETS = {"distill": distill_from_unpruned, "sft": sft_on_graded_labels}


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
    parser.add_argument("--layer-criterion", default="ndcg", choices=list(LAYER_CRITERIA))
    parser.add_argument("--calib-pairs", type=int, default=256, help="calibration prompts")
    parser.add_argument("--damp", type=float, default=0.01, help="Hessian dampening, share of its mean diagonal")
    parser.add_argument("--swap-rounds", type=int, default=8, help="OSSCAR local-search swaps per layer")
    parser.add_argument("--sensitivity-split", default="val")
    parser.add_argument("--sensitivity-queries", type=int, default=60)
    parser.add_argument("--recover", default="distill", choices=[*RECOVERY_TARGETS, "none"])
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
    """The ranker as a model directory (weights, tokenizer, template), built beside `out`
    and renamed into place: an interrupted save leaves no half-written model."""

    def build(directory: Path) -> None:
        ranker.model.save_pretrained(directory)
        ranker.tokenizer.save_pretrained(directory)
        ranker.template.save(directory)

    write_directory(out, build)


def recovery_options(args: argparse.Namespace, unrecovered: Path, out: Path) -> TrainOptions:
    """ranker.train's run that recovers the pruned model at `unrecovered` into `out`, with
    the command's length, batch size and seed; no validation pass, the report evaluates."""
    return TrainOptions(data=args.data, model=str(unrecovered), out=str(out), **RECOVERY_TARGETS[args.recover](args), epochs=args.recover_epochs, lr=args.recover_lr,
                        max_length=args.max_length, batch_size=args.batch_size, eval_split="", seed=args.seed)


def recover(ranker: Ranker, args: argparse.Namespace, out: Path) -> Ranker:
    """Save the pruned model to `out`/unrecovered, train it into `out`, load the result."""
    unrecovered = out / "unrecovered"
    save_ranker(ranker, unrecovered)
    print(json.dumps(train_ranker(recovery_options(args, unrecovered, out))))  # the training summary line, before the report's
    return load_ranker(out, max_length=args.max_length)


def report_ndcg(ranker: Ranker, dataset: Dataset, args: argparse.Namespace) -> float:
    return evaluate_ranker(ranker, dataset, args.report_split, batch_size=args.batch_size * 2)["ndcg@10"]


def main(argv=None) -> dict:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
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
    report["ndcg_before"] = report_ndcg(ranker, dataset, args)
    log.info("test NDCG@10 before pruning: %.4f", report["ndcg_before"])

    subset = dataset.only_split(args.sensitivity_split, args.sensitivity_queries)
    removed, table, baseline = choose_layers(ranker, subset, args.sensitivity_split, args.drop_layers, args.layer_criterion, batches, args.batch_size * 2)
    report.update(removed_layers=removed, sensitivity=table, sensitivity_baseline=baseline)
    report["mlp"] = [vars(r) for r in prune_mlp(ranker.model, keep, args.method, batches, args.damp, args.swap_rounds)] if keep < ranker.model.config.intermediate_size else []
    report["params_after"], report["layer_params_after"] = parameter_count(ranker.model), layer_parameter_count(ranker.model)
    report["ndcg_pruned"] = report_ndcg(ranker, dataset, args)
    log.info("test NDCG@10 after pruning, before recovery: %.4f", report["ndcg_pruned"])

    if args.recover == "none":
        save_ranker(ranker, out)
        report["ndcg_after"] = report["ndcg_pruned"]
    else:
        report["ndcg_after"] = report_ndcg(recover(ranker, args, out), dataset, args)
    report["recovery"] = args.recover
    log.info("test NDCG@10 after recovery (%s): %.4f", args.recover, report["ndcg_after"])
    report["seconds"] = round(time.time() - started, 1)
    write_report(out, report)
    print(json.dumps({k: v for k, v in report.items() if k not in ("sensitivity", "mlp")}))
    return report


if __name__ == "__main__":
    run_cli(main)
