"""The ``synth`` command: write a synthetic job-search dataset and describe it. Registered
by ``python -m jobdata`` and by the project's data command, ``python -m rlsum.data``."""

from __future__ import annotations

import argparse
import logging
import statistics
import time
from collections import Counter

from jobdata.schema import SPLITS, Dataset
from jobdata.synth import DEFAULT_ITEMS, DEFAULT_QUERIES, REFERENCE_SUMMARIES_FILE, SHAPES, write_synthetic

log = logging.getLogger("jobdata")


def describe(dataset: Dataset) -> str:
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
    log.info("generating %d items (%s postings) and %d queries with seed %d", args.items, args.shape, args.queries, args.seed)
    started = time.perf_counter()
    dataset = write_synthetic(args.out, args.seed, args.items, args.queries, args.reference_summaries, args.shape, args.item_splits)
    log.info("wrote items.jsonl, queries.jsonl, qrels.jsonl to %s in %.1f s",
             args.out, time.perf_counter() - started)
    print(describe(dataset))


def add_synth_command(commands) -> None:
    """Add ``synth`` to an argparse subparsers object."""
    synth = commands.add_parser("synth", help="write a synthetic job-search dataset")
    synth.add_argument("--out", required=True, help="data directory to write")
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--items", type=int, default=DEFAULT_ITEMS, help="number of postings")
    synth.add_argument("--queries", type=int, default=DEFAULT_QUERIES, help="number of queries")
    synth.add_argument("--shape", default="realistic", choices=sorted(SHAPES),
                       help="posting length: realistic (median ~800 Qwen3 tokens, up to ~2,400) or "
                       "compact (the same sections, median ~330, up to ~500)")
    synth.add_argument("--item-splits", action="store_true",
                       help="split the postings too (70/15/15): a query's candidates come from its own split's postings")
    synth.add_argument("--reference-summaries", action="store_true",
                       help=f"also write {REFERENCE_SUMMARIES_FILE} (title, location, first skills of each posting)")
    synth.set_defaults(run=_synth)


def run(parser: argparse.ArgumentParser, argv: list[str] | None = None) -> None:
    """Parse argv and run the chosen command; bad data or paths end with one line."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    args = parser.parse_args(argv)
    try:
        args.run(args)
    except (ValueError, FileNotFoundError) as error:  # DataError included: one line, no traceback
        log.error("%s", error)
        raise SystemExit(1) from None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m jobdata", description="The job-search data format's commands.")
    add_synth_command(parser.add_subparsers(dest="command", required=True))
    run(parser, argv)
