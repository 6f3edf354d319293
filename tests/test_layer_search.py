"""The layer search (ranker.layer_search) on a tiny random two-layer Qwen3 whose first
layer is made the identity: block influence measures it as zero, removing it leaves
NDCG@10 exactly as it was, and both criteria pick layers by their rule."""

import copy

import numpy as np
import pytest
import torch

from ranker.evaluate import evaluate_ranker
from ranker.layer_search import LAYER_CRITERIA, block_influence, choose_layers
from ranker.prune_surgery import calibration_batches
from ranker.scoring import Ranker, load_ranker
from jobdata import load_dataset


@pytest.fixture(scope="module")
def loaded(tiny_model_dirs, synthetic_data_dir):
    ranker = load_ranker(tiny_model_dirs["qwen3"], max_length=96)
    with torch.no_grad():  # both residual branches of layer 0 write zeros: it is the identity
        ranker.model.model.layers[0].self_attn.o_proj.weight.zero_()
        ranker.model.model.layers[0].mlp.down_proj.weight.zero_()
    dataset = load_dataset(synthetic_data_dir)
    return ranker, dataset.only_split("val", 3), calibration_batches(ranker, dataset, pairs=16, batch_size=8, seed=0)


@pytest.fixture
def identity_first_layer(loaded):
    """A fresh copy of that ranker (the search cuts it), the validation subset and the
    calibration batches."""
    ranker, subset, batches = loaded
    return Ranker(copy.deepcopy(ranker.model), ranker.tokenizer, ranker.template, ranker.max_length), subset, batches


def test_block_influence_is_zero_for_a_layer_that_changes_nothing(identity_first_layer):
    ranker, _, batches = identity_first_layer
    scores = block_influence(ranker.model, batches)
    assert len(scores) == 2 and scores[0] == pytest.approx(0.0, abs=1e-9) and scores[1] > 1e-4


def test_block_influence_removes_the_identity_layer_and_tabulates_the_full_model(identity_first_layer):
    ranker, subset, batches = identity_first_layer
    baseline = evaluate_ranker(ranker, subset, split="val", batch_size=8)["ndcg@10"]
    scores = block_influence(ranker.model, batches)
    removed, table, measured_baseline = choose_layers(ranker, subset, "val", 1, "block-influence", batches, 8)
    assert removed == [0] and measured_baseline == baseline
    assert table == [{"layer": 0, "block_influence": scores[0]}, {"layer": 1, "block_influence": scores[1]}]
    assert len(ranker.model.model.layers) == 1 and ranker.model.model.layers[0].self_attn.layer_idx == 0


def test_ndcg_criterion_tables_each_drop_and_removes_the_best(identity_first_layer):
    ranker, subset, batches = identity_first_layer
    removed, table, baseline = choose_layers(ranker, subset, "val", 1, "ndcg", batches, 8)
    assert [row["layer"] for row in table] == [0, 1]
    assert table[0]["ndcg@10"] == baseline and table[0]["ndcg_change"] == 0.0  # the identity layer: same scores without it
    assert all(row["ndcg_change"] == row["ndcg@10"] - baseline for row in table)
    assert removed == [int(np.argmax([row["ndcg@10"] for row in table]))]
    assert len(ranker.model.model.layers) == 1


def test_dropping_no_layer_still_tables_every_layer_and_keeps_the_model(identity_first_layer):
    ranker, subset, batches = identity_first_layer
    removed, table, _ = choose_layers(ranker, subset, "val", 0, "ndcg", batches, 8)
    assert removed == [] and [row["layer"] for row in table] == [0, 1]
    assert len(ranker.model.model.layers) == 2


def test_the_criteria_are_the_command_line_choices():
    from ranker.prune import parse_args

    assert list(LAYER_CRITERIA) == ["ndcg", "block-influence"]
    with pytest.raises(SystemExit):
        parse_args(["--model", "m", "--data", "d", "--out", "o", "--layer-criterion", "cosine"])
