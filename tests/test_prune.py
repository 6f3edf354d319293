"""OSSCAR neuron selection (against brute force and hand-checkable identities), model
surgery, and `python -m ranker.prune` end to end and on bad arguments."""

import itertools
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from ranker.osscar import magnitude_select, osscar_select, reconstruction_error
from ranker.prune import calibration_batches, down_proj_hessian, prune_mlp, remove_layers
from ranker.scoring import load_ranker
from ranker.tiny import build_tiny_ranker
from jobdata import load_dataset

pytestmark = pytest.mark.e2e  # runs whole commands or training loops; `pytest -m "not e2e"` skips it


def least_squares_problem(seed: int, n: int = 120, d: int = 9, m: int = 4):
    generator = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=generator, dtype=torch.float64) @ torch.randn(d, d, generator=generator, dtype=torch.float64)
    return X, torch.randn(m, d, generator=generator, dtype=torch.float64)


def refit_error(X, W, kept) -> float:
    """The best error keeping `kept`, by an independent least-squares solve."""
    target = X @ W.T
    fitted = X[:, kept] @ torch.linalg.lstsq(X[:, kept], target).solution
    return float((target - fitted).square().sum() / target.square().sum())


def test_reconstruction_error_from_the_hessian_equals_the_direct_error():
    X, W = least_squares_problem(0)
    kept = torch.tensor([0, 3, 4, 8])
    some_weights = torch.randn(W.shape[0], 4, dtype=torch.float64)
    direct = float((X @ W.T - X[:, kept] @ some_weights.T).square().sum() / (X @ W.T).square().sum())
    assert reconstruction_error(W, X.T @ X, kept, some_weights) == pytest.approx(direct, rel=1e-10)


@pytest.mark.parametrize("seed", range(6))
def test_osscar_refits_exactly_and_ends_at_a_swap_local_optimum(seed):
    X, W = least_squares_problem(seed)
    H = X.T @ X
    greedy = osscar_select(W, H, keep=4, damp=0.0)
    searched = osscar_select(W, H, keep=4, damp=0.0, swap_rounds=20)
    for selection in (greedy, searched):
        kept = selection.kept.tolist()
        assert kept == sorted(kept) and len(kept) == 4
        assert selection.error == pytest.approx(refit_error(X, W, selection.kept), rel=1e-8)  # the refit is the least-squares one
    assert searched.error <= greedy.error + 1e-12
    # The local search ends where no single swap helps: check every swap independently.
    kept = searched.kept.tolist()
    for out, into in itertools.product(kept, sorted(set(range(9)) - set(kept))):
        swapped = torch.tensor(sorted(set(kept) - {out} | {into}))
        assert refit_error(X, W, swapped) >= searched.error - 1e-12
    assert searched.error < magnitude_select(W, H, keep=4).error


def test_swaps_find_the_optimum_where_greedy_misses_it():
    # Seed 9 of this problem: greedy elimination keeps a set 58% worse than the optimum.
    X, W = least_squares_problem(9, d=10, m=5)
    H = X.T @ X
    optimum = min(refit_error(X, W, torch.tensor(s)) for s in itertools.combinations(range(10), 5))
    greedy = osscar_select(W, H, keep=5, damp=0.0)
    searched = osscar_select(W, H, keep=5, damp=0.0, swap_rounds=20)
    assert greedy.error > optimum * 1.05
    assert searched.swaps >= 1 and searched.error == pytest.approx(optimum, rel=1e-9)


def test_keeping_every_neuron_changes_nothing():
    X, W = least_squares_problem(1)
    selection = osscar_select(W, X.T @ X, keep=9, swap_rounds=5)
    assert selection.kept.tolist() == list(range(9)) and torch.equal(selection.weight, W) and selection.error == 0.0


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory, synthetic_data_dir):
    model_dir = build_tiny_ranker(tmp_path_factory.mktemp("prune") / "model", num_layers=3, hidden_size=32, num_heads=2, intermediate_size=64, initializer_range=0.3, seed=2)
    ranker = load_ranker(model_dir, max_length=128)
    batches = calibration_batches(ranker, load_dataset(synthetic_data_dir), pairs=48, batch_size=16, seed=0)
    return model_dir, batches


def test_osscar_beats_magnitude_on_every_layer_and_the_model_reloads(calibrated, tmp_path):
    from transformers import AutoModelForCausalLM

    model_dir, batches = calibrated
    errors = {}
    for method in ("osscar", "magnitude"):
        ranker = load_ranker(model_dir, max_length=128)
        errors[method] = [r.error for r in prune_mlp(ranker.model, keep=32, method=method, batches=batches)]
        ranker.model.save_pretrained(tmp_path / method)
    assert all(o < m for o, m in zip(errors["osscar"], errors["magnitude"])), errors
    reloaded = AutoModelForCausalLM.from_pretrained(tmp_path / "osscar")
    assert reloaded.config.intermediate_size == 32
    assert all(layer.mlp.down_proj.weight.shape == (32, 32) and layer.mlp.gate_proj.weight.shape == (32, 32) for layer in reloaded.model.layers)


def test_hessian_ignores_padding(calibrated):
    model_dir, batches = calibrated
    model = load_ranker(model_dir, max_length=128).model
    padded = down_proj_hessian(model, 1, batches[:1])
    # The same prompts one at a time, unpadded: the same H.
    input_ids, attention_mask = batches[0]
    rows = [(ids[mask.bool()][None], torch.ones(1, int(mask.sum()), dtype=torch.long)) for ids, mask in zip(input_ids, attention_mask)]
    unpadded = down_proj_hessian(model, 1, rows)
    # float32 forwards of padded and unpadded rows differ in the last bits; a leaked pad
    # token would change H by orders of magnitude more.
    assert float((padded - unpadded).norm() / unpadded.norm()) < 1e-5


def test_removing_layers_renumbers_and_reloads(calibrated, tmp_path):
    from transformers import AutoModelForCausalLM

    model_dir, _ = calibrated
    model = load_ranker(model_dir).model
    kept_weight = model.model.layers[2].mlp.up_proj.weight.clone()
    remove_layers(model, [1])
    assert [layer.self_attn.layer_idx for layer in model.model.layers] == [0, 1]
    model.save_pretrained(tmp_path / "two")
    reloaded = AutoModelForCausalLM.from_pretrained(tmp_path / "two")
    assert reloaded.config.num_hidden_layers == 2 and len(reloaded.config.layer_types) == 2
    assert torch.equal(reloaded.model.layers[1].mlp.up_proj.weight, kept_weight)


def run_prune(*args):
    return subprocess.run([sys.executable, "-m", "ranker.prune", *args], capture_output=True, text=True)


def test_keeping_everything_reproduces_the_scores_exactly(calibrated, synthetic_data_dir, tmp_path):
    model_dir, _ = calibrated
    out = tmp_path / "same"
    result = run_prune("--model", str(model_dir), "--data", str(synthetic_data_dir), "--out", str(out), "--mlp-keep", "1.0", "--drop-layers", "0",
                       "--recover", "none", "--sensitivity-queries", "3", "--calib-pairs", "16", "--max-length", "96")
    assert result.returncode == 0, result.stderr[-2000:]
    pairs = [("remote data engineer", "Senior Data Engineer, remote, Spark"), ("chef jobs in Paris", "Line cook, Lyon")]
    before = load_ranker(model_dir).score_pairs(pairs).label_logprobs
    after = load_ranker(out).score_pairs(pairs).label_logprobs
    assert np.array_equal(before, after)
    report = json.loads((out / "prune_report.json").read_text())
    assert report["params_before"] == report["params_after"] and report["ndcg_before"] == report["ndcg_after"]
    assert [row["layer"] for row in report["sensitivity"]] == [0, 1, 2]


def test_pruning_end_to_end_with_recovery_writes_model_and_report(calibrated, synthetic_data_dir, tmp_path):
    model_dir, _ = calibrated
    out = tmp_path / "pruned"
    result = run_prune("--model", str(model_dir), "--data", str(synthetic_data_dir), "--out", str(out), "--mlp-keep", "0.5", "--drop-layers", "1",
                       "--recover", "distill", "--recover-epochs", "0.05", "--sensitivity-queries", "3", "--calib-pairs", "32", "--max-length", "96")
    assert result.returncode == 0, result.stderr[-2000:]
    speedup = subprocess.run([sys.executable, "-m", "serving.prune_speedup", "--pruned", str(out), "--requests", "1"], capture_output=True, text=True)
    assert speedup.returncode == 0, speedup.stderr[-2000:]
    report = json.loads((out / "prune_report.json").read_text())
    assert report["params_after"] < report["params_before"] and len(report["removed_layers"]) == 1 and report["speedup"] > 0
    assert [row["layer"] for row in report["mlp"]] == [0, 1]
    assert "| pruned + distill |" in (out / "prune_report.md").read_text() and "items/s" in (out / "prune_report.md").read_text()
    ranker = load_ranker(out)
    assert ranker.model.config.num_hidden_layers == 2 and ranker.model.config.intermediate_size == 32


@pytest.mark.parametrize("args,message", [
    (["--mlp-keep", "0"], "--mlp-keep must be in (0, 1], got 0.0"),
    (["--mlp-keep", "1.5"], "--mlp-keep must be in (0, 1], got 1.5"),
    (["--drop-layers", "3"], "--drop-layers must be in 0..2 (the model has 3 layers), got 3"),
    (["--mlp-keep-neurons", "65"], "--mlp-keep-neurons must be in 1..64"),
])
def test_bad_arguments_fail_before_any_work(calibrated, synthetic_data_dir, tmp_path, args, message):
    model_dir, _ = calibrated
    result = run_prune("--model", str(model_dir), "--data", str(synthetic_data_dir), "--out", str(tmp_path / "x"), *args)
    assert result.returncode == 2 and message in result.stderr
    assert not (tmp_path / "x").exists()


def test_unknown_family_and_missing_calibration_data_fail_clearly(tmp_path, synthetic_data_dir):
    from transformers import GPT2Config, GPT2LMHeadModel

    GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=8, n_head=2)).save_pretrained(tmp_path / "gpt2")
    result = run_prune("--model", str(tmp_path / "gpt2"), "--data", str(synthetic_data_dir), "--out", str(tmp_path / "x"))
    assert result.returncode == 2 and "model family 'gpt2' is not supported for pruning; supported: llama, mistral, qwen2, qwen3" in result.stderr

    no_train = tmp_path / "no-train"
    no_train.mkdir()
    for name in ("items.jsonl", "qrels.jsonl"):
        (no_train / name).write_text((synthetic_data_dir / name).read_text())
    queries = [json.loads(line) for line in (synthetic_data_dir / "queries.jsonl").read_text().splitlines()]
    (no_train / "queries.jsonl").write_text("".join(json.dumps({**q, "split": "val" if q["split"] == "train" else q["split"]}) + "\n" for q in queries))
    model_dir = build_tiny_ranker(tmp_path / "m", num_layers=2, hidden_size=16, num_heads=2, intermediate_size=32)
    result = run_prune("--model", str(model_dir), "--data", str(no_train), "--out", str(tmp_path / "y"))
    assert result.returncode == 2 and "no calibration data: the data directory has no training query with candidates" in result.stderr


def test_block_influence_is_zero_for_a_layer_that_changes_nothing(calibrated):
    from ranker.prune import block_influence

    model_dir, batches = calibrated
    model = load_ranker(model_dir).model
    with torch.no_grad():  # both residual branches write zeros: the layer is the identity
        model.model.layers[1].self_attn.o_proj.weight.zero_()
        model.model.layers[1].mlp.down_proj.weight.zero_()
    scores = block_influence(model, batches[:2])
    assert len(scores) == 3 and scores[1] == pytest.approx(0.0, abs=1e-9)
    assert scores[0] > 1e-4 and scores[2] > 1e-4
