"""`python -m rlsum.evaluate`: the report's numbers against an independent computation, the
PNG, and one-line errors for bad summaries and a data directory without a test split."""

import json
import subprocess
import sys

import pytest
from PIL import Image

from ranker.evaluate import evaluate_ranker
from ranker.scoring import load_ranker
from jobdata import load_dataset, write_jsonl
from rlsum.evaluate import Row, run_label, verdict

pytestmark = pytest.mark.e2e  # whole commands or training loops; the fast loop (README, Tests) skips it


def run_evaluate(*args):
    return subprocess.run([sys.executable, "-m", "rlsum.evaluate", *args], capture_output=True, text=True)


@pytest.fixture(scope="module")
def first_words(synthetic_data_dir, tmp_path_factory):
    """A summaries file: the first 12 words of every posting."""
    path = tmp_path_factory.mktemp("summaries") / "first-words.jsonl"
    items = [json.loads(line) for line in (synthetic_data_dir / "items.jsonl").read_text().splitlines()]
    write_jsonl(path, [{"item_id": i["item_id"], "summary": " ".join(i["text"].split()[:12])} for i in items])
    return path


def test_report_numbers_png_and_verdict(tiny_model_dirs, synthetic_data_dir, first_words, tmp_path):
    out = tmp_path / "report"
    result = run_evaluate("--ranker", str(tiny_model_dirs["qwen3"]), "--data", str(synthetic_data_dir), "--summaries", f"first-words={first_words}",
                          "--truncation", "0.1,0.5", "--max-length", "128", "--out", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads((out / "report.json").read_text())
    rows = {r["name"]: r for r in report["rows"]}
    assert set(rows) == {"raw text", "first-words", "first 10% of tokens", "first 50% of tokens"}

    # Independent check of the summaries row: NDCG@10 on the test split with the summaries.
    dataset = load_dataset(synthetic_data_dir).only_split("test")
    ranker = load_ranker(tiny_model_dirs["qwen3"], max_length=128)
    summaries = {json.loads(line)["item_id"]: json.loads(line)["summary"] for line in first_words.read_text().splitlines()}
    raw = evaluate_ranker(ranker, dataset, "test")["ndcg@10"]
    with_summaries = evaluate_ranker(ranker, dataset, "test", summaries={r.item_id: summaries[r.item_id] for r in dataset.qrels})["ndcg@10"]
    assert rows["raw text"]["ndcg"] == pytest.approx(raw, abs=1e-12)
    assert rows["first-words"]["ndcg"] == pytest.approx(with_summaries, abs=1e-12)
    assert rows["first-words"]["ndcg_change"] == pytest.approx(with_summaries / raw - 1, abs=1e-12)
    assert 0.9 < rows["first-words"]["compression"] < 1.0  # 12 words of postings of hundreds of tokens
    assert rows["first 50% of tokens"]["compression"] == pytest.approx(0.5, abs=0.01)

    markdown = (out / "report.md").read_text()
    assert "| ALGORITHM | LENGTH PENALTY | PENALTY WEIGHT | RL TRAINING | NDCG@10 | NDCG@10 CHANGE | COMPRESSION |" in markdown
    assert report["verdict"] == "No RL run was evaluated."
    with Image.open(out / "pareto.png") as image:
        assert image.size[0] > 400 and image.size[1] > 300


def test_an_rl_row_is_labelled_by_its_config_and_training_set(tmp_path):
    (tmp_path / "prepared").mkdir()
    (tmp_path / "config.yaml").write_text("algo: {name: drgrpo}\npenalty: {name: p1, w: 1.0, tau: 0.02, m: 0}\ntrainer: {total_training_steps: 60}\n")
    (tmp_path / "prepared" / "prepare_summary.json").write_text(json.dumps({"train": {"items": 512}}))
    assert run_label(tmp_path) == ("drgrpo", "P1 (tau=0.02, m=0)", "1.0", "60 steps x 512 postings")


def rl_row(name, compression, change, truncation_change):
    return Row(name, "rl", 0.7 * (1 + change), compression, "gspo", "P2", "0.3", "30 steps x 64 postings", change, truncation_change)


def test_the_verdict_takes_the_best_run_that_compresses_enough():
    raw = Row("raw text", "raw", 0.7, 0.0)
    # The best NDCG overall compresses too little; the best of those at >= 80% decides.
    rows = [raw, rl_row("long", 0.5, 0.0, -0.01), rl_row("good", 0.85, -0.02, -0.05), rl_row("worse", 0.9, -0.1, -0.01)]
    assert verdict(rows).startswith("Best RL run: good (gspo, P2 w=0.3, 30 steps x 64 postings) at 85.0% compression changes NDCG@10 by -2.0%")
    assert "loss: met" in verdict(rows) and "(RL beats truncation)" in verdict(rows)
    rows = [raw, rl_row("lossy", 0.97, -0.12, -0.01)]
    assert "loss: NOT met" in verdict(rows) and "(RL does NOT beat truncation)" in verdict(rows)


def test_summaries_naming_an_unknown_item_fail_with_one_line(tiny_model_dirs, synthetic_data_dir, tmp_path):
    bad = tmp_path / "bad.jsonl"
    write_jsonl(bad, [{"item_id": "job-99999", "summary": "Chef"}])
    result = run_evaluate("--ranker", str(tiny_model_dirs["qwen3"]), "--data", str(synthetic_data_dir), "--summaries", f"bad={bad}", "--out", str(tmp_path / "r"))
    assert result.returncode == 2
    assert f"{bad}:1: field 'item_id': unknown item 'job-99999'" in result.stderr and result.stderr.strip().count("\n") == 0


def test_data_without_a_test_split_fails_with_one_line(tiny_model_dirs, synthetic_data_dir, tmp_path):
    data = tmp_path / "no-test"
    data.mkdir()
    for name in ("items.jsonl", "qrels.jsonl"):
        (data / name).write_text((synthetic_data_dir / name).read_text())
    queries = [json.loads(line) for line in (synthetic_data_dir / "queries.jsonl").read_text().splitlines()]
    write_jsonl(data / "queries.jsonl", [{**q, "split": "train" if q["split"] == "test" else q["split"]} for q in queries])
    result = run_evaluate("--ranker", str(tiny_model_dirs["qwen3"]), "--data", str(data), "--out", str(tmp_path / "r"))
    assert result.returncode == 2 and "the data has no 'test' queries" in result.stderr
    assert result.stderr.strip().count("\n") == 0


def test_the_plain_prompt_baseline_is_what_the_summarize_command_writes(tiny_model_dirs, synthetic_data_dir, tmp_path):
    """--plain-actor summarizes the test candidates in process; `python -m rlsum.summarize`
    with prompt=plain and the same length gives the same summaries."""
    from rlsum.actor import build_tiny_actor

    actor = build_tiny_actor(tmp_path / "actor", hidden_size=32, num_layers=1, num_heads=2)
    out = tmp_path / "report"
    result = run_evaluate("--ranker", str(tiny_model_dirs["qwen3"]), "--data", str(synthetic_data_dir), "--truncation", "0.5", "--max-length", "128",
                          "--plain-actor", str(actor), "--plain-max-new-tokens", "8", "--plain-out", str(tmp_path / "plain"), "--out", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "plain prompt" in {r["name"] for r in json.loads((out / "report.json").read_text())["rows"]}
    command = [sys.executable, "-m", "rlsum.summarize", f"actor={actor}", f"data={synthetic_data_dir}", f"out={tmp_path / 'cli'}", "split=test", "prompt=plain", "generation.max_new_tokens=8"]
    assert subprocess.run(command, capture_output=True, text=True).returncode == 0
    assert (tmp_path / "plain" / "summaries.jsonl").read_text() == (tmp_path / "cli" / "summaries.jsonl").read_text()
    stats = json.loads((tmp_path / "plain" / "stats.json").read_text())
    assert stats["prompt"] == "plain" and stats["split"] == "test" and stats["generation"]["max_new_tokens"] == 8
