"""NDCG@k exactly as DESIGN.md defines it (pure Python, no framework imports).

Gain 2^label - 1, discount 1 / log2(rank + 1) with rank starting at 1; each query's
candidates are ranked by descending score with ties broken by ascending item_id; the
mean is over queries with at least one positive label, the others are skipped and counted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping


def dcg(labels_in_rank_order: list[int], k: int) -> float:
    return sum((2.0**label - 1.0) / math.log2(rank + 1) for rank, label in enumerate(labels_in_rank_order[:k], start=1))


def query_ndcg(labels: Mapping[str, int], scores: Mapping[str, float], k: int = 10) -> float | None:
    """NDCG@k of one query's candidates (item_id -> label, item_id -> score); None when
    the query has no positive label, so it has no ideal ranking to compare with."""
    if set(labels) != set(scores):
        missing = sorted(set(labels) ^ set(scores))[:5]
        raise ValueError(f"labels and scores must cover the same items; differing: {missing}")
    ideal = dcg(sorted(labels.values(), reverse=True), k)
    if ideal == 0.0:
        return None
    ranked = sorted(scores, key=lambda item_id: (-scores[item_id], item_id))
    return dcg([labels[item_id] for item_id in ranked], k) / ideal


@dataclass
class NdcgResult:
    mean: float  # NaN when no query has a positive label
    queries: int  # queries averaged
    skipped_queries: int  # queries without any positive label
    per_query: dict[str, float] = field(default_factory=dict)


def mean_ndcg(labels: Mapping[str, Mapping[str, int]], scores: Mapping[str, Mapping[str, float]], k: int = 10) -> NdcgResult:
    """NDCG@k averaged over queries: labels[query_id][item_id], scores[query_id][item_id]."""
    per_query, skipped = {}, 0
    for query_id in sorted(labels):
        if query_id not in scores:
            raise ValueError(f"query {query_id!r} has labels but no scores")
        value = query_ndcg(labels[query_id], scores[query_id], k)
        if value is None:
            skipped += 1
        else:
            per_query[query_id] = value
    mean = sum(per_query.values()) / len(per_query) if per_query else float("nan")
    return NdcgResult(mean, len(per_query), skipped, per_query)
