"""Ranker training (hard labels, distillation, resume) and the evaluation CLI, end to end
on tiny models and a small hand-made dataset whose relevance a tiny model can learn."""

import json
import random
import subprocess
import sys

import numpy as np
import pytest

from ranker.evaluate import bm25_ndcg, evaluate_ranker
from ranker.metrics import mean_ndcg
from ranker.scoring import load_ranker
from ranker.tiny import build_tiny_ranker
from ranker.train import TrainOptions, main as train_main, train_ranker
from jobdata import Dataset, Item, Qrel, Query, load_dataset, write_dataset
from jobdata.synth import write_synthetic

pytestmark = pytest.mark.e2e  # whole commands or training loops; the fast loop (README, Tests) skips it

CITIES = ["Seattle", "Austin", "Chicago", "Boston"]


@pytest.fixture(scope="module")
def remote_dataset(tmp_path_factory):
    """Postings are relevant (label 3) exactly when they say "Remote": a signal a tiny
    model picks up in a few dozen steps, so training must beat its untrained init."""
    rng = random.Random(0)
    items = {}
    for n in range(40):
        remote = n % 2 == 0
        where = "Remote (US)" if remote else f"{rng.choice(CITIES)}, on site"
        items[f"job-{n:02d}"] = Item(f"job-{n:02d}", "Data Engineer", f"Data Engineer\nLocation: {where}\nBuild pipelines.")
    queries, qrels = {}, []
    for q in range(12):
        split = "train" if q < 8 else ("val" if q < 10 else "test")
        queries[f"q{q}"] = Query(f"q{q}", "remote data engineer jobs", split)
        for item_id in rng.sample(sorted(items), 10):
            qrels.append(Qrel(f"q{q}", item_id, 3 if "Remote" in items[item_id].text else 0))
    out = tmp_path_factory.mktemp("remote-data")
    write_dataset(out, Dataset(items, queries, qrels))
    return out


@pytest.fixture(scope="module")
def init_dir(tmp_path_factory):
    return build_tiny_ranker(tmp_path_factory.mktemp("init") / "m", hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64)


def train_args(data, model, out, *extra):
    return ["--data", str(data), "--model", str(model), "--out", str(out), "--batch-size", "8", "--lr", "5e-3", "--logging-steps", "5", "--save-steps", "5", *extra]


def test_training_on_labels_learns_the_relevance_signal(remote_dataset, init_dir, tmp_path, capsys):
    summary = train_main(train_args(remote_dataset, init_dir, tmp_path / "ranker", "--epochs", "6"))
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == summary
    trained = load_ranker(tmp_path / "ranker")  # a plain save_pretrained directory
    dataset = load_dataset(remote_dataset)
    assert evaluate_ranker(trained, dataset, "test")["ndcg@10"] == pytest.approx(1.0)
    assert summary["val_ndcg@10"] == pytest.approx(1.0)
    p = trained.score_pairs([("remote data engineer jobs", "Data Engineer\nLocation: Remote (US)\nBuild pipelines."), ("remote data engineer jobs", "Data Engineer\nLocation: Austin, on site\nBuild pipelines.")]).p_yes
    assert p[0] > p[1]


def test_distillation_moves_the_student_towards_the_teacher(remote_dataset, init_dir, tmp_path):
    teacher_dir = build_tiny_ranker(tmp_path / "teacher", seed=5, hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64, initializer_range=0.5)
    train_main(train_args(remote_dataset, init_dir, tmp_path / "student", "--teacher", str(teacher_dir), "--epochs", "6", "--eval-split", ""))
    dataset = load_dataset(remote_dataset)
    pairs = [(dataset.queries[q.query_id].text, dataset.items[q.item_id].text) for q in dataset.qrels]
    teacher = load_ranker(teacher_dir).score_pairs(pairs).p_yes
    before = load_ranker(init_dir).score_pairs(pairs).p_yes
    after = load_ranker(tmp_path / "student").score_pairs(pairs).p_yes
    assert np.abs(after - teacher).mean() < 0.5 * np.abs(before - teacher).mean()


def test_resume_continues_from_the_latest_checkpoint(remote_dataset, init_dir, tmp_path):
    out = tmp_path / "ranker"
    train_main(train_args(remote_dataset, init_dir, out, "--epochs", "1", "--eval-split", ""))
    first = json.loads(max((out / "checkpoints").glob("checkpoint-*/trainer_state.json"), key=lambda p: int(p.parent.name.split("-")[1])).read_text())
    train_main(train_args(remote_dataset, init_dir, out, "--epochs", "2", "--eval-split", "", "--resume"))
    steps = sorted(int(p.name.split("-")[1]) for p in (out / "checkpoints").glob("checkpoint-*"))
    assert steps[-1] == 2 * first["global_step"]  # 1 epoch done, 1 more run, none repeated


def test_negative_share_trains_on_every_positive_and_part_of_the_rest(remote_dataset, init_dir, tmp_path):
    out = tmp_path / "ranker"
    train_main(train_args(remote_dataset, init_dir, out, "--epochs", "1", "--eval-split", "", "--negative-share", "0.5"))
    labels = [q.label for q in load_dataset(remote_dataset).qrels if q.query_id in {f"q{i}" for i in range(8)}]
    positives, negatives = sum(label > 0 for label in labels), sum(label == 0 for label in labels)
    state = json.loads(max((out / "checkpoints").glob("checkpoint-*/trainer_state.json"), key=lambda p: int(p.parent.name.split("-")[1])).read_text())
    assert state["global_step"] == -(-(positives + round(0.5 * negatives)) // 8)  # batches of 8


def test_train_ranker_and_the_command_give_the_same_summary(remote_dataset, init_dir, tmp_path, capsys):
    aids = {"graded_targets": True, "lexical_match_weight": 1.0, "negative_share": 0.5, "relevant_weight": 2.0}
    by_code = train_ranker(TrainOptions(data=str(remote_dataset), model=str(init_dir), out=str(tmp_path / "code"), batch_size=8, lr=5e-3, logging_steps=5, save_steps=5, epochs=0.5, **aids))
    assert json.dumps(by_code) not in capsys.readouterr().out  # only the command prints the summary
    flags = ["--graded-targets", "--lexical-match-weight", "1.0", "--negative-share", "0.5", "--relevant-weight", "2.0", "--epochs", "0.5"]
    by_command = train_main(train_args(remote_dataset, init_dir, tmp_path / "command", *flags))
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == by_command
    timing = {"model", "train_seconds"}
    assert {k: v for k, v in by_code.items() if k not in timing} == {k: v for k, v in by_command.items() if k not in timing}
    assert sorted(by_code) == ["model", "train_loss", "train_pairs", "train_seconds", "val_ndcg@10"]
    assert json.loads((tmp_path / "code" / "train_summary.json").read_text()) == by_code


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    write_synthetic(out, seed=3, n_items=60, n_queries=12)
    return out


def run_evaluate(*args):
    proc = subprocess.run([sys.executable, "-m", "ranker.evaluate", *map(str, args)], capture_output=True, text=True, timeout=300)
    return proc


def test_evaluate_cli_reports_ndcg_on_the_split(synth_dir, tiny_model_dirs):
    proc = run_evaluate("--data", synth_dir, "--model", tiny_model_dirs["qwen3"], "--split", "test", "--bm25")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    dataset = load_dataset(synth_dir)
    test_queries = dataset.queries_in("test")
    assert report["queries"] + report["skipped_queries"] == len(test_queries)
    assert report["pairs"] == sum(len(dataset.candidates(q.query_id)) for q in test_queries)
    assert 0.0 <= report["ndcg@10"] <= 1.0 and 0.0 <= report["bm25_ndcg@10"] <= 1.0
    assert report["tokens_per_item"] > 250


def test_evaluate_scores_summaries_in_place_of_text(synth_dir, tiny_model_dirs, tmp_path):
    dataset = load_dataset(synth_dir)
    ranker = load_ranker(tiny_model_dirs["llama"])
    first_lines = {item_id: item.text.splitlines()[0] for item_id, item in dataset.items.items()}
    on_summaries = evaluate_ranker(ranker, dataset, "val", summaries=first_lines)
    assert on_summaries["tokens_per_item"] < 20
    # Independent computation: score the (query, summary) pairs directly.
    labels = {q.query_id: {c.item_id: c.label for c in dataset.candidates(q.query_id)} for q in dataset.queries_in("val")}
    keys = [(q, i) for q in labels for i in labels[q]]
    p = ranker.score_pairs([(dataset.queries[q].text, first_lines[i]) for q, i in keys]).p_yes
    scores = {q: {} for q in labels}
    for (q, i), value in zip(keys, p):
        scores[q][i] = value
    assert on_summaries["ndcg@10"] == pytest.approx(mean_ndcg(labels, scores).mean, abs=1e-12)


def test_evaluate_rejects_summaries_missing_candidates(synth_dir, tiny_model_dirs, tmp_path):
    dataset = load_dataset(synth_dir)
    some = sorted(dataset.items)[:3]
    (tmp_path / "summaries.jsonl").write_text("".join(json.dumps({"item_id": i, "summary": "short"}) + "\n" for i in some))
    proc = run_evaluate("--data", synth_dir, "--model", tiny_model_dirs["qwen3"], "--summaries", tmp_path / "summaries.jsonl")
    assert proc.returncode != 0 and "summaries lack" in proc.stderr


def test_evaluate_names_an_unknown_summarized_item_by_file_and_line(synth_dir, tiny_model_dirs, tmp_path):
    known = sorted(load_dataset(synth_dir).items)[0]
    rows = [{"item_id": known, "summary": "short"}, {"item_id": "job-99999", "summary": "short"}]
    (tmp_path / "summaries.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    proc = run_evaluate("--data", synth_dir, "--model", tiny_model_dirs["qwen3"], "--summaries", tmp_path / "summaries.jsonl")
    assert proc.returncode != 0
    assert f"{tmp_path / 'summaries.jsonl'}:2: field 'item_id': unknown item 'job-99999'" in proc.stderr


def test_bm25_ranks_lexical_matches_first(remote_dataset):
    # Only "remote" items contain the query word "Remote": BM25 ranks them perfectly.
    assert bm25_ndcg(load_dataset(remote_dataset), "test") == pytest.approx(1.0)


def test_malformed_data_is_one_line_naming_file_line_and_field(synth_dir, tiny_model_dirs, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    for name in ("items.jsonl", "queries.jsonl"):
        (bad / name).write_text((synth_dir / name).read_text())
    rows = (synth_dir / "qrels.jsonl").read_text().splitlines()
    rows[2] = rows[2].replace('"label": ', '"label": "high", "x": ')
    (bad / "qrels.jsonl").write_text("\n".join(rows) + "\n")
    proc = run_evaluate("--data", bad, "--model", tiny_model_dirs["qwen3"])
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "qrels.jsonl:3: field 'label'" in proc.stderr.strip().splitlines()[-1]


def test_also_summaries_adds_a_summary_pair_with_the_same_label(synthetic_data_dir):
    from ranker.train import split_pairs

    dataset = load_dataset(synthetic_data_dir)
    summaries = {item_id: f"summary of {item_id}" for item_id in dataset.items}
    plain_pairs, plain_labels = split_pairs(dataset, "train")
    pairs, labels = split_pairs(dataset, "train", summaries)
    assert pairs[0::2] == plain_pairs and list(labels[0::2]) == list(plain_labels)
    assert list(labels[1::2]) == list(plain_labels)
    item_of_text = {item.text: item_id for item_id, item in dataset.items.items()}
    assert [s for _, s in pairs[1::2]] == [summaries[item_of_text[text]] for _, text in plain_pairs]
    assert [q for q, _ in pairs[1::2]] == [q for q, _ in plain_pairs]
