"""Command line for the data package: ``python -m rlsum.data <command> ...``."""

from __future__ import annotations

import argparse
import json

from jobdata.cli import add_synth_command, run
from jobdata.schema import SPLITS
from rlsum.data.prepare import prepare


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

    add_synth_command(commands)

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
    run(_parser(), argv)


if __name__ == "__main__":
    main()
