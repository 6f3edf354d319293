"""Command line for the data package: ``python -m rlsum.data <command> ...``."""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
from collections import Counter

from rlsum.data.prepare import prepare
from rlsum.data.schema import SPLITS, Dataset
from rlsum.data.synth import DEFAULT_ITEMS, DEFAULT_QUERIES, write_synthetic

log = logging.getLogger("rlsum.data")


def _summary(dataset: Dataset) -> str:
    """A few lines describing a dataset: counts, labels, splits, text lengths."""
    labels = Counter(qrel.label for qrel in dataset.qrels)
    splits = Counter(query.split for query in dataset.queries.values())
    per_query = [len(dataset.candidates(query_id)) for query_id in dataset.queries]
    text_chars = [len(item.text) for item in dataset.items.values()]
    return "\n".join([
        f"items={len(dataset.items)} queries={len(dataset.queries)} qrels={len(dataset.qrels)}",
        "labels " + " ".join(f"{label}={labels[label]}" for label in sorted(labels)),
        "splits " + " ".join(f"{split}={splits[split]}" for split in SPLITS),
        f"candidates per query min={min(per_query)} median={statistics.median(per_query):g} "
        f"max={max(per_query)}",
        f"item text chars min={min(text_chars)} median={statistics.median(text_chars):g} "
        f"max={max(text_chars)}",
    ])


def _synth(args: argparse.Namespace) -> None:
    log.info("generating %d items and %d queries with seed %d", args.items, args.queries, args.seed)
    started = time.perf_counter()
    dataset = write_synthetic(args.out, args.seed, args.items, args.queries)
    log.info("wrote items.jsonl, queries.jsonl, qrels.jsonl to %s in %.1f s",
             args.out, time.perf_counter() - started)
    print(_summary(dataset))


def _prepare(args: argparse.Namespace) -> None:
    summary = prepare(
        args.data, args.ranker, args.actor, args.out,
        train_split=args.train_split, val_split=args.val_split,
        queries_per_item=args.queries_per_item, max_items=args.max_items,
        max_val_items=args.max_val_items, ranker_max_length=args.ranker_max_length,
        batch_size=args.batch_size, seed=args.seed, device=args.device,
        max_prompt_tokens=args.max_prompt_tokens,
    )
    print(json.dumps(summary))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m rlsum.data", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    synth = commands.add_parser("synth", help="write a synthetic job-search dataset")
    synth.add_argument("--out", required=True, help="data directory to write")
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--items", type=int, default=DEFAULT_ITEMS, help="number of postings")
    synth.add_argument("--queries", type=int, default=DEFAULT_QUERIES, help="number of queries")
    synth.set_defaults(run=_synth)

    prep = commands.add_parser(
        "prepare", help="write the RL training set (verl parquet, p_raw precomputed by the ranker)"
    )
    prep.add_argument("--data", required=True, help="data directory")
    prep.add_argument("--ranker", required=True, help="frozen ranker model directory (gives p_raw)")
    prep.add_argument("--actor", required=True,
                      help="summarizer model or tokenizer directory (its tokenizer counts l_orig)")
    prep.add_argument("--out", required=True,
                      help="directory for train.parquet, val.parquet, prepare_summary.json")
    prep.add_argument("--train-split", default="train", choices=SPLITS)
    prep.add_argument("--val-split", default="val", choices=SPLITS)
    prep.add_argument("--queries-per-item", type=int, default=4,
                      help="at most this many queries per item, labels mixed")
    prep.add_argument("--max-items", type=int, help="keep a seeded subset of this many train items")
    prep.add_argument("--max-val-items", type=int, help="keep a seeded subset of this many val items")
    prep.add_argument("--ranker-max-length", type=int,
                      help="max tokens per ranker pair (use the reward's ranker_max_length)")
    prep.add_argument("--max-prompt-tokens", type=int,
                      help="fit every chat-templated prompt to this many actor tokens by cutting the "
                           "posting's end (use the trainer's data.max_prompt_length; default: whole postings)")
    prep.add_argument("--batch-size", type=int, default=32, help="ranker batch size")
    prep.add_argument("--seed", type=int, default=0)
    prep.add_argument("--device", help="ranker device: cpu, cuda, cuda:1 ... (default: cuda when available)")
    prep.set_defaults(run=_prepare)
    return parser


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    args = _parser().parse_args(argv)
    try:
        args.run(args)
    except (ValueError, FileNotFoundError) as error:  # DataError included: one line, no traceback
        log.error("%s", error)
        sys.exit(1)


if __name__ == "__main__":
    main()
