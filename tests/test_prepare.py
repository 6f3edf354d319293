"""`python -m rlsum.data prepare`: the verl parquet rows, checked against the ranker and
the actor tokenizer run independently, the reward adapter and verl's own dataset class."""

import dataclasses
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ranker.scoring import load_ranker
from ranker.tokenizer import load_qwen3_tokenizer, qwen3_tokenizer_dir
from rewards.verl_reward import item_task
from jobdata import load_dataset, write_dataset
from jobdata.rl_rows import ROW_SCHEMA, load_rows
from jobdata.synth import write_synthetic
from rlsum.actor import fit_prompt
from rlsum.data.prepare import check_prompt_budget, prepare, select_queries
from rlsum.prompts import PLAIN_SUMMARIZE_INSTRUCTION, SUMMARIZE_INSTRUCTION, summarization_messages

REPO = Path(__file__).resolve().parents[1]
K = 3
MAX_LENGTH = 128  # ranker tokens per pair: keeps the tiny ranker fast
PROMPT_BUDGET = 900  # about the median synthetic prompt: some are cut, some are whole
OPTIONS = dict(queries_per_item=K, max_items=12, max_val_items=8, ranker_max_length=MAX_LENGTH, batch_size=16, seed=3, max_prompt_tokens=PROMPT_BUDGET)

@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("data")
    write_synthetic(path, seed=0, n_items=120, n_queries=20)
    return path


@pytest.fixture(scope="module")
def prepared(data_dir, tiny_model_dirs, tmp_path_factory):
    out = tmp_path_factory.mktemp("prepared")
    summary = prepare(data_dir, tiny_model_dirs["qwen3"], qwen3_tokenizer_dir(), out, device="cpu", **OPTIONS)
    return out, summary


def test_files_have_the_verl_schema(prepared):
    out, summary = prepared
    for name in ("train.parquet", "val.parquet"):
        schema = pq.read_schema(out / name)
        # verl's dataset format (its docs, "Prepare Data"): these five columns, the chat
        # messages in `prompt`; the rest of the row is ours, as jobdata.rl_rows defines it.
        assert schema.names == ["data_source", "prompt", "ability", "reward_model", "extra_info"]
        assert schema.field("prompt").type == pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
        assert schema.equals(ROW_SCHEMA), schema
    assert json.loads((out / "prepare_summary.json").read_text()) == summary


def test_rows_match_the_dataset(prepared, data_dir):
    out, summary = prepared
    dataset = load_dataset(data_dir)
    tokenizer = load_qwen3_tokenizer()
    mixed = 0
    for split, file, max_items in (("train", "train.parquet", 12), ("val", "val.parquet", 8)):
        rows = load_rows(out / file)
        assert len(rows) == max_items == summary[split]["items"]
        # The prompt fits the budget by the shared rule; whole postings where they fit.
        whole = [row["prompt"] == summarization_messages(row["extra_info"]["item_text"]) for row in rows]
        assert summary[split]["prompts_cut"] == whole.count(False) and 0 < whole.count(False) < len(rows)
        assert summary[split]["max_prompt_tokens"] <= PROMPT_BUDGET == summary[split]["prompt_budget"]
        assert [row["extra_info"]["item_id"] for row in rows] == sorted(row["extra_info"]["item_id"] for row in rows)
        # (query text, item, label) of the split's candidate pairs
        allowed = {(dataset.queries[q.query_id].text, q.item_id, q.label) for query in dataset.queries_in(split) for q in dataset.candidates(query.query_id)}
        for index, row in enumerate(rows):
            info = row["extra_info"]
            item = dataset.items[info["item_id"]]
            assert row["data_source"] == "rlsum-jobs" and row["ability"] == "summarization"
            assert row["reward_model"]["style"] == "ranker"
            assert info["index"] == index and info["split"] == split and info["item_text"] == item.text
            assert row["prompt"] == fit_prompt(tokenizer, item.text, PROMPT_BUDGET).messages
            assert row["prompt"][0]["content"].startswith(SUMMARIZE_INSTRUCTION)
            assert 1 <= len(info["queries"]) <= K and len(set(info["queries"])) == len(info["queries"])
            assert len(info["labels"]) == len(info["queries"]) == len(row["reward_model"]["ground_truth"])
            for query, label in zip(info["queries"], info["labels"]):
                assert (query, item.item_id, label) in allowed
            item_labels = {label for query, item_id, label in allowed if item_id == item.item_id}
            if len(item_labels) > 1:  # a mix exists among its candidates: the pick keeps it
                assert len(set(info["labels"])) > 1
                mixed += 1
            assert max(info["labels"]) == max(item_labels)  # highest label first
        assert summary[split]["pairs"] == sum(len(row["extra_info"]["queries"]) for row in rows)
    assert mixed > 0


def test_p_raw_and_l_orig_match_independent_computation(prepared, tiny_model_dirs):
    out, _ = prepared
    ranker = load_ranker(tiny_model_dirs["qwen3"], device="cpu", max_length=MAX_LENGTH)
    tokenizer = load_qwen3_tokenizer()
    for file in ("train.parquet", "val.parquet"):
        rows = load_rows(out / file)
        pairs = [(query, row["extra_info"]["item_text"]) for row in rows for query in row["extra_info"]["queries"]]
        expected = ranker.score_pairs(pairs, batch_size=5).p_yes
        got = np.array([p for row in rows for p in row["reward_model"]["ground_truth"]])
        np.testing.assert_allclose(got, expected, atol=1e-6, rtol=0)
        assert np.ptp(got) > 0.01  # the tiny ranker's scores vary, so the check bites
        for row in rows:
            assert row["extra_info"]["l_orig"] == len(tokenizer(row["extra_info"]["item_text"], add_special_tokens=False)["input_ids"])


def test_reward_adapter_accepts_every_row(prepared):
    out, _ = prepared
    for file in ("train.parquet", "val.parquet"):
        for row in load_rows(out / file):
            task = item_task(row["reward_model"]["ground_truth"], row["extra_info"])
            assert task.queries == tuple(row["extra_info"]["queries"]) and task.l_orig == row["extra_info"]["l_orig"]


@pytest.mark.slow  # builds verl's RLHFDataset
def test_verl_dataset_reads_the_file(prepared, tmp_path, monkeypatch):
    datasets = pytest.importorskip("datasets")
    from omegaconf import OmegaConf
    from verl.utils.dataset.rl_dataset import RLHFDataset, collate_fn

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "hf"))
    out, summary = prepared
    config = OmegaConf.create({
        "cache_dir": str(tmp_path / "verl"), "prompt_key": "prompt",
        # the summary's longest chat-templated prompt: verl's length filter keeps every row
        "max_prompt_length": summary["train"]["max_prompt_tokens"],
        "filter_overlong_prompts": True, "filter_overlong_prompts_workers": 1,
        "apply_chat_template_kwargs": {"enable_thinking": False},
    })
    dataset = RLHFDataset(str(out / "train.parquet"), load_qwen3_tokenizer(), config)
    rows = load_rows(out / "train.parquet")
    assert len(dataset) == len(rows)
    batch = collate_fn([dataset[i] for i in range(2)])
    for i in range(2):
        assert batch["raw_prompt"][i] == rows[i]["prompt"]
        assert batch["index"][i] == i
        assert batch["reward_model"][i]["ground_truth"] == rows[i]["reward_model"]["ground_truth"]
        assert item_task(batch["reward_model"][i]["ground_truth"], batch["extra_info"][i]).l_orig == rows[i]["extra_info"]["l_orig"]


def test_cli_is_deterministic(prepared, data_dir, tiny_model_dirs, tmp_path, capsys):
    """Same arguments, through the command line (in process), give identical files."""
    from rlsum.data.__main__ import main

    out, summary = prepared
    flags = [f"--{name.replace('_', '-')}={value}" for name, value in OPTIONS.items()]
    main(["prepare", "--data", str(data_dir), "--ranker", str(tiny_model_dirs["qwen3"]), "--actor", str(qwen3_tokenizer_dir()), "--out", str(tmp_path), "--device", "cpu", *flags])
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed["train"] == summary["train"] and printed["val"] == summary["val"]
    assert printed["arguments"] == {**summary["arguments"], "out": str(tmp_path)}
    for name in ("train.parquet", "val.parquet"):
        assert (tmp_path / name).read_bytes() == (out / name).read_bytes()


def _cli(*args, timeout=120):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "rlsum.data", "prepare", *map(str, args)], capture_output=True, text=True, cwd=REPO, env=env, timeout=timeout)


@pytest.mark.e2e  # a `python -m rlsum.data prepare` subprocess
def test_cli_bad_argument_is_one_line(data_dir, tmp_path):
    result = _cli("--data", data_dir, "--ranker", tmp_path, "--actor", qwen3_tokenizer_dir(), "--out", tmp_path / "out")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert f"--ranker {tmp_path}: not a model directory (no config.json)" in result.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "out").exists()


def test_bad_arguments_fail_before_heavy_work(data_dir, tiny_model_dirs, tmp_path):
    ranker, actor = tiny_model_dirs["qwen3"], qwen3_tokenizer_dir()
    with pytest.raises(ValueError, match="--queries-per-item must be >= 1"):
        prepare(data_dir, ranker, actor, tmp_path / "a", queries_per_item=0)
    with pytest.raises(FileNotFoundError, match="data directory not found"):
        prepare(tmp_path / "missing", ranker, actor, tmp_path / "b")
    dataset = load_dataset(data_dir)
    no_train = dataclasses.replace(dataset, queries={qid: dataclasses.replace(q, split="test" if q.split == "train" else q.split) for qid, q in dataset.queries.items()})
    write_dataset(tmp_path / "no-train", no_train)
    with pytest.raises(ValueError, match="no queries in the 'train' split"):
        prepare(tmp_path / "no-train", ranker, actor, tmp_path / "c")
    assert not any((tmp_path / name).exists() for name in "abc")


def test_fit_prompt_cuts_the_end_of_the_posting_and_keeps_the_instruction():
    tokenizer = load_qwen3_tokenizer()
    text = "Senior Rust engineer, Berlin, hybrid. " + "We offer great benefits and a friendly team. " * 40
    whole = fit_prompt(tokenizer, text)
    assert whole.tokens_cut == 0 and whole.messages == summarization_messages(text)
    assert fit_prompt(tokenizer, text, len(whole.ids)) == whole  # a prompt that fits is left alone
    for instruction in (SUMMARIZE_INSTRUCTION, PLAIN_SUMMARIZE_INSTRUCTION):
        fitted = fit_prompt(tokenizer, text, 128, instruction)
        content = fitted.messages[0]["content"]
        assert len(fitted.ids) <= 128 and fitted.tokens_cut > 0
        assert content.startswith(instruction) and "Senior Rust engineer, Berlin" in content  # the end went, not the start
        assert text.startswith(content.split("Job posting:\n", 1)[1])
        assert fitted.ids == tokenizer.apply_chat_template(fitted.messages, add_generation_prompt=True, enable_thinking=False, tokenize=True, return_dict=False)
        decoded = tokenizer.decode(fitted.ids)
        assert decoded.startswith("<|im_start|>user\n" + instruction) and decoded.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
    with pytest.raises(ValueError, match="the summarization prompt alone needs more than 40 tokens"):
        fit_prompt(tokenizer, text, 40)


def test_a_prompt_budget_below_the_instruction_fails_before_the_ranker_loads(data_dir, tiny_model_dirs, tmp_path, monkeypatch):
    import ranker.scoring

    monkeypatch.setattr(ranker.scoring, "load_ranker", lambda *a, **k: pytest.fail("the ranker was loaded"))
    with pytest.raises(ValueError, match="needs more than 40 tokens"):
        prepare(data_dir, tiny_model_dirs["qwen3"], qwen3_tokenizer_dir(), tmp_path / "out", max_prompt_tokens=40)
    with pytest.raises(ValueError, match="--max-prompt-tokens must be >= 1"):
        prepare(data_dir, tiny_model_dirs["qwen3"], qwen3_tokenizer_dir(), tmp_path / "out", max_prompt_tokens=0)


def test_check_prompt_budget_names_a_prepared_set_that_does_not_fit(prepared):
    out, summary = prepared
    check_prompt_budget(out, PROMPT_BUDGET)
    with pytest.raises(ValueError, match=r"do not fit data.max_prompt_length=128; prepare again with max_prompt_tokens=128"):
        check_prompt_budget(out, 128)


def test_select_queries_mixes_labels_deterministically():
    candidates = [(f"neg{i}", 0) for i in range(6)] + [("pos3", 3), ("pos1a", 1), ("pos1b", 1)]
    picked = select_queries(candidates, 4, random.Random(0))
    assert [label for _, label in picked] == [3, 1, 0, 1]
    assert picked == select_queries(candidates, 4, random.Random(0))
    assert len(select_queries(candidates, 20, random.Random(0))) == len(candidates)
    assert select_queries(candidates[:2], 1, random.Random(1))[0][1] == 0


def test_summarization_prompt():
    messages = summarization_messages("Senior Rust engineer, Berlin, hybrid.")
    assert messages == [{"role": "user", "content": messages[0]["content"]}]
    assert messages[0]["content"].startswith(SUMMARIZE_INSTRUCTION) and messages[0]["content"].endswith("Senior Rust engineer, Berlin, hybrid.")
    for word in ("title", "seniority", "location", "remote", "skills", "plain text"):
        assert word in SUMMARIZE_INSTRUCTION
