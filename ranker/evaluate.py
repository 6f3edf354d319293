"""NDCG@10 of a ranker on a data split, optionally on summaries and against BM25.

    python -m ranker.evaluate --data DIR --model PATH [--summaries FILE] [--split test] [--bm25]

Every candidate of every query in the split is scored; with --summaries each item's text
is replaced by its summary (an item without one is an error: a silently mixed run would
not measure the summarizer). The last stdout line is one JSON object with `ndcg@10`,
`queries`, `skipped_queries`, `tokens_per_item` and, with --bm25, `bm25_ndcg@10`
computed by BM25 over the same item texts and the same candidates.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections import defaultdict

import numpy as np

from ranker.cli import run_cli
from ranker.metrics import mean_ndcg
from ranker.scoring import Ranker, load_ranker
from jobdata import Dataset, load_dataset, load_summaries

log = logging.getLogger(__name__)


def item_texts(dataset: Dataset, summaries: dict[str, str] | None) -> dict[str, str]:
    if summaries is None:
        return {item_id: item.text for item_id, item in dataset.items.items()}
    needed = {q.item_id for q in dataset.qrels}
    missing = sorted(needed - set(summaries))
    if missing:
        raise ValueError(f"summaries lack {len(missing)} candidate item(s), e.g. {missing[:3]}")
    return {item_id: summaries[item_id] for item_id in needed}


def split_labels(dataset: Dataset, split: str) -> dict[str, dict[str, int]]:
    labels: dict[str, dict[str, int]] = {}
    for query in dataset.queries_in(split):
        labels[query.query_id] = {q.item_id: q.label for q in dataset.candidates(query.query_id)}
    if not labels:
        raise ValueError(f"split {split!r} has no queries")
    return labels


def evaluate_ranker(ranker: Ranker, dataset: Dataset, split: str = "test", summaries: dict[str, str] | None = None, batch_size: int = 32, progress: bool = False) -> dict:
    texts = item_texts(dataset, summaries)
    labels = split_labels(dataset, split)
    keys = [(query_id, item_id) for query_id in labels for item_id in labels[query_id]]
    pairs = [(dataset.queries[query_id].text, texts[item_id]) for query_id, item_id in keys]
    started = time.time()
    result = ranker.score_pairs(pairs, batch_size=batch_size, progress=progress)
    seconds = time.time() - started
    scores: dict[str, dict[str, float]] = defaultdict(dict)
    for (query_id, item_id), p in zip(keys, result.p_yes):
        scores[query_id][item_id] = float(p)
    ndcg = mean_ndcg(labels, scores)
    return {
        "ndcg@10": ndcg.mean,
        "queries": ndcg.queries,
        "skipped_queries": ndcg.skipped_queries,
        "split": split,
        "pairs": len(pairs),
        "tokens_per_item": float(result.item_tokens.mean()),
        "tokens_per_pair": float(result.prompt_tokens.mean()),
        "truncated_items": int(len({item_id for (_, item_id), cut in zip(keys, result.truncated) if cut})),
        "pairs_per_second": len(pairs) / seconds if seconds > 0 else None,
    }


def bm25_ndcg(dataset: Dataset, split: str = "test", summaries: dict[str, str] | None = None) -> float:
    """NDCG@10 of BM25 (bm25s, English stopwords, Snowball stemming) over the same texts
    and candidates; IDF comes from all those texts (every item, or with summaries every
    summarized candidate)."""
    import bm25s
    import Stemmer

    texts = item_texts(dataset, summaries)
    item_ids = sorted(texts)
    stemmer = Stemmer.Stemmer("english")
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize([texts[i] for i in item_ids], stopwords="en", stemmer=stemmer, show_progress=False), show_progress=False)
    row_of = {item_id: row for row, item_id in enumerate(item_ids)}
    labels = split_labels(dataset, split)
    scores = {}
    for query_id, candidates in labels.items():
        query_tokens = bm25s.tokenize([dataset.queries[query_id].text], stopwords="en", stemmer=stemmer, return_ids=False, show_progress=False)[0]
        all_scores = retriever.get_scores(query_tokens) if query_tokens else np.zeros(len(item_ids))
        scores[query_id] = {item_id: float(all_scores[row_of[item_id]]) for item_id in candidates}
    return mean_ndcg(labels, scores).mean


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--model", required=True, help="ranker model directory")
    parser.add_argument("--summaries", help="summaries.jsonl: score each item's summary instead of its text")
    parser.add_argument("--split", default="test", choices=["train", "val", "test"])
    parser.add_argument("--bm25", action="store_true", help="also report BM25 on the same candidates")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, help="max tokens per pair; longer items are cut and reported")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    parser.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda when available)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    dataset = load_dataset(args.data)
    # An unknown item is named with its file and line before anything is scored.
    summaries = load_summaries(args.summaries, dataset.items) if args.summaries else None
    ranker = load_ranker(args.model, device=args.device, dtype=args.dtype, max_length=args.max_length)
    report = evaluate_ranker(ranker, dataset, args.split, summaries, args.batch_size, progress=True)
    report["model"] = args.model
    if args.bm25:
        report["bm25_ndcg@10"] = bm25_ndcg(dataset, args.split, summaries)
    print(json.dumps(report))
    return report


if __name__ == "__main__":
    run_cli(main)
