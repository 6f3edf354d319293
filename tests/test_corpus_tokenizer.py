"""The corpus tokenizer for tiny models: trained on a data directory, it keeps Qwen3's chat
rendering and end-of-turn token and the ranker's label words as single tokens, and tiny
rankers and actors built with it load and run like those with the real tokenizer."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from jobdata import load_dataset
from jobdata.synth import write_synthetic
from ranker.corpus_tokenizer import dataset_texts, train_corpus_tokenizer
from ranker.scoring import load_ranker
from ranker.tiny import build_tiny_ranker
from ranker.tokenizer import load_qwen3_tokenizer
from rlsum.actor import build_tiny_actor, fit_prompt

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("corpus")
    write_synthetic(root / "data", seed=1, n_items=60, n_queries=12, shape="compact")
    subprocess.run([sys.executable, "-m", "ranker.corpus_tokenizer", "--data", str(root / "data"), "--out", str(root / "tok"), "--vocab-size", "2048"], cwd=REPO_ROOT, check=True, capture_output=True, timeout=120)
    return {"data": root / "data", "tokenizer": AutoTokenizer.from_pretrained(root / "tok"), "root": root}


def test_the_saved_tokenizer_round_trips_text_and_keeps_qwen3s_chat_rendering(corpus) -> None:
    tokenizer = corpus["tokenizer"]
    assert len(tokenizer) <= 2048
    item = next(iter(load_dataset(corpus["data"]).items.values()))
    ids = tokenizer(item.text, add_special_tokens=False)["input_ids"]
    assert tokenizer.decode(ids) == item.text
    assert len(ids) < len(load_qwen3_tokenizer()(item.text, add_special_tokens=False)["input_ids"]) * 1.2
    for label in ("Yes", "No"):
        assert len(tokenizer(label, add_special_tokens=False)["input_ids"]) == 1
    messages = [{"role": "user", "content": "Summarize.\n\nJob posting:\n" + item.text}]
    qwen3 = load_qwen3_tokenizer()
    ours = tokenizer.apply_chat_template(messages, add_generation_prompt=True, enable_thinking=False, tokenize=True, return_dict=False)
    theirs = qwen3.apply_chat_template(messages, add_generation_prompt=True, enable_thinking=False, tokenize=True, return_dict=False)
    assert tokenizer.decode(ours) == qwen3.decode(theirs)
    assert tokenizer.eos_token == "<|im_end|>" and tokenizer.pad_token == "<|endoftext|>"


def test_a_label_that_cannot_be_one_token_is_named() -> None:
    # 256 byte symbols and 5 chat tokens leave room for one merge at most: "Yes" cannot be whole.
    with pytest.raises(ValueError, match="label 'Yes' became [23] tokens .*raise vocab_size"):
        train_corpus_tokenizer(["Yes and No"], vocab_size=262)


def test_tiny_models_built_with_it_size_their_vocabulary_to_it_and_run(corpus) -> None:
    tokenizer, root = corpus["tokenizer"], corpus["root"]
    ranker_dir = build_tiny_ranker(root / "ranker", tokenizer=tokenizer, hidden_size=16, num_layers=1, num_heads=2, intermediate_size=32, share_spellings=True)
    rows = AutoModelForCausalLM.from_pretrained(ranker_dir).get_input_embeddings().weight.shape[0]
    assert rows == -(-len(tokenizer) // 64) * 64 and rows <= 2048
    ranker = load_ranker(str(ranker_dir))
    scores = ranker.score_pairs([("remote data engineer", item.text) for item in list(load_dataset(corpus["data"]).items.values())[:2]])
    assert scores.p_yes.shape == (2,) and ((scores.p_yes > 0) & (scores.p_yes < 1)).all()

    actor_dir = build_tiny_actor(root / "actor", hidden_size=16, num_layers=1, num_heads=2, tokenizer=tokenizer)
    actor = AutoModelForCausalLM.from_pretrained(actor_dir)
    assert actor.generation_config.eos_token_id == tokenizer.convert_tokens_to_ids("<|im_end|>")
    prompt = fit_prompt(AutoTokenizer.from_pretrained(actor_dir), "Senior Data Engineer\n\nDetails\nLocation: Austin, TX", max_tokens=200)
    assert prompt.tokens_cut == 0
    logits = actor(input_ids=torch.tensor([prompt.ids])).logits
    assert logits.shape[-1] == rows


def test_dataset_texts_cover_postings_titles_queries_and_the_template(corpus) -> None:
    dataset = load_dataset(corpus["data"])
    texts = dataset_texts(corpus["data"])
    assert len(texts) == 2 + 2 * len(dataset.items) + len(dataset.queries)
    assert any("{query}" in text for text in texts[:2])
    assert {item.text for item in dataset.items.values()} | {query.text for query in dataset.queries.values()} <= set(texts)
