"""`python -m ranker.prune` end to end and on bad arguments, and the ranker.train run its
recovery asks for."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ranker.prune import parse_args, recovery_options
from ranker.scoring import load_ranker
from ranker.tiny import build_tiny_ranker
from ranker.train import TrainOptions

e2e = pytest.mark.e2e  # runs the whole command in a subprocess; `pytest -m "not e2e"` skips it


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return build_tiny_ranker(tmp_path_factory.mktemp("prune") / "model", num_layers=3, hidden_size=32, num_heads=2, intermediate_size=64, initializer_range=0.3, seed=2)


def run_prune(*args):
    return subprocess.run([sys.executable, "-m", "ranker.prune", *args], capture_output=True, text=True)


def test_recovery_trains_the_unrecovered_model_into_out_with_the_commands_settings():
    args = parse_args(["--model", "models/ranker", "--data", "data", "--out", "models/pruned", "--recover-epochs", "0.5", "--max-length", "128", "--seed", "3"])
    distill = recovery_options(args, Path("models/pruned/unrecovered"), Path("models/pruned"))
    assert distill == TrainOptions(data="data", model="models/pruned/unrecovered", out="models/pruned", teacher="models/ranker", epochs=0.5, lr=1e-3,
                                   max_length=128, batch_size=16, eval_split="", seed=3)
    args.recover = "sft"
    sft = recovery_options(args, Path("models/pruned/unrecovered"), Path("models/pruned"))
    assert sft.teacher is None and sft.graded_targets and sft.epochs == 0.5


@e2e
def test_keeping_everything_reproduces_the_scores_exactly(model_dir, synthetic_data_dir, tmp_path):
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
    last_line = json.loads(result.stdout.splitlines()[-1])
    assert last_line == {k: v for k, v in report.items() if k not in ("sensitivity", "mlp")}
    # The model directory was built beside OUT and renamed: nothing else is left there.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["same"]
    assert {"config.json", "model.safetensors", "tokenizer.json", "prune_report.json", "prune_report.md"} <= {p.name for p in out.iterdir()}
    assert not any(p.name.endswith(".tmp") for p in out.iterdir())


@e2e
def test_pruning_end_to_end_with_recovery_writes_model_and_report(model_dir, synthetic_data_dir, tmp_path):
    out = tmp_path / "pruned"
    result = run_prune("--model", str(model_dir), "--data", str(synthetic_data_dir), "--out", str(out), "--mlp-keep", "0.5", "--drop-layers", "1",
                       "--recover", "distill", "--recover-epochs", "0.05", "--sensitivity-queries", "3", "--calib-pairs", "32", "--max-length", "96")
    assert result.returncode == 0, result.stderr[-2000:]
    training_line, report_line = (json.loads(line) for line in result.stdout.splitlines()[-2:])
    assert training_line["model"] == str(out) and training_line == json.loads((out / "train_summary.json").read_text())
    assert load_ranker(out / "unrecovered").model.config.intermediate_size == 32
    speedup = subprocess.run([sys.executable, "-m", "serving.prune_speedup", "--pruned", str(out), "--requests", "1"], capture_output=True, text=True)
    assert speedup.returncode == 0, speedup.stderr[-2000:]
    report = json.loads((out / "prune_report.json").read_text())
    assert report_line == {k: v for k, v in report.items() if k not in ("sensitivity", "mlp", "items_per_s_before", "items_per_s_after", "speedup")}
    assert report["params_after"] < report["params_before"] and len(report["removed_layers"]) == 1 and report["speedup"] > 0
    assert [row["layer"] for row in report["mlp"]] == [0, 1]
    assert "| pruned + distill |" in (out / "prune_report.md").read_text() and "items/s" in (out / "prune_report.md").read_text()
    ranker = load_ranker(out)
    assert ranker.model.config.num_hidden_layers == 2 and ranker.model.config.intermediate_size == 32


@e2e
@pytest.mark.parametrize("args,message", [
    (["--mlp-keep", "0"], "--mlp-keep must be in (0, 1], got 0.0"),
    (["--mlp-keep", "1.5"], "--mlp-keep must be in (0, 1], got 1.5"),
    (["--drop-layers", "3"], "--drop-layers must be in 0..2 (the model has 3 layers), got 3"),
    (["--mlp-keep-neurons", "65"], "--mlp-keep-neurons must be in 1..64"),
])
def test_bad_arguments_fail_before_any_work(model_dir, synthetic_data_dir, tmp_path, args, message):
    result = run_prune("--model", str(model_dir), "--data", str(synthetic_data_dir), "--out", str(tmp_path / "x"), *args)
    assert result.returncode == 2 and message in result.stderr
    assert not (tmp_path / "x").exists()


@e2e
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
    tiny = build_tiny_ranker(tmp_path / "m", num_layers=2, hidden_size=16, num_heads=2, intermediate_size=32)
    result = run_prune("--model", str(tiny), "--data", str(no_train), "--out", str(tmp_path / "y"))
    assert result.returncode == 2 and "no calibration data: the data directory has no training query with candidates" in result.stderr
