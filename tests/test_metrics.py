import math
import random

import pytest
from ranx import Qrels, Run, evaluate

from ranker.metrics import mean_ndcg, query_ndcg


def test_hand_worked_ndcg_with_tie_broken_by_item_id():
    labels = {"b": 3, "a": 1, "c": 0, "d": 2}
    scores = {"a": 0.9, "b": 0.9, "c": 0.5, "d": 0.1}  # a and b tie: a ranks first
    dcg = (2**1 - 1) / math.log2(2) + (2**3 - 1) / math.log2(3) + 0 + (2**2 - 1) / math.log2(5)
    ideal = 7 / math.log2(2) + 3 / math.log2(3) + 1 / math.log2(4)
    assert query_ndcg(labels, scores) == pytest.approx(dcg / ideal, abs=1e-12)


def test_cutoff_at_k():
    labels = {f"i{n:02d}": 0 for n in range(12)} | {"z": 2}
    scores = {item: 1.0 - n / 100 for n, item in enumerate(sorted(labels))}  # z ranks 13th
    assert query_ndcg(labels, scores, k=10) == 0.0
    assert query_ndcg(labels, scores, k=13) == pytest.approx(1 / math.log2(14))


def test_queries_without_positives_are_skipped_and_counted():
    labels = {"q1": {"a": 0, "b": 0}, "q2": {"a": 1, "b": 0}}
    scores = {"q1": {"a": 0.1, "b": 0.2}, "q2": {"a": 0.1, "b": 0.2}}
    result = mean_ndcg(labels, scores)
    assert (result.queries, result.skipped_queries) == (1, 1)
    assert result.mean == pytest.approx(1 / math.log2(3))


def test_mismatched_items_are_an_error():
    with pytest.raises(ValueError, match="same items"):
        query_ndcg({"a": 1}, {"b": 0.5})


@pytest.mark.slow  # ranx compiles its numba kernels first (about a minute)
def test_matches_ranx_on_random_runs_with_ties():
    rng = random.Random(7)
    labels, scores = {}, {}
    for q in range(200):
        n = rng.randint(1, 40)
        items = [f"item{rng.randint(0, 999):03d}x{k}" for k in range(n)]
        labels[f"q{q}"] = {i: rng.choice([0, 0, 0, 1, 2, 3]) for i in items}
        # Coarse scores produce many ties.
        scores[f"q{q}"] = {i: rng.randint(0, 4) / 4 for i in items}
    ours = mean_ndcg(labels, scores)
    positive = sorted(q for q in labels if any(labels[q].values()))
    assert ours.queries == len(positive) and ours.skipped_queries == len(labels) - len(positive)
    # ranx orders tied scores arbitrarily, so hand it strict scores that encode DESIGN.md's
    # tie rule: within a tie, an earlier item_id gets a bonus far below the 0.25 score step.
    def untied(query_scores):
        ids = sorted(query_scores)
        return {i: query_scores[i] + 1e-6 * (len(ids) - rank) for rank, i in enumerate(ids)}

    qrels = Qrels({q: labels[q] for q in positive})
    run = Run({q: untied(scores[q]) for q in positive})
    per_query = evaluate(qrels, run, "ndcg_burges@10", return_mean=False)
    for q, value in zip(positive, per_query):
        assert ours.per_query[q] == pytest.approx(float(value), abs=1e-9)
    assert ours.mean == pytest.approx(float(per_query.mean()), abs=1e-9)
