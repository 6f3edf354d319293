"""Builds, once, what the CPU default needs and no download provides: the synthetic
benchmark (compact postings, split postings, reference summaries), a tokenizer fitted to
it, a tiny ranker trained with one of ranker.train's recipes, and a tiny actor warm-started
by SFT on the reference summaries of the train split's postings. Each piece is built in a
temporary directory and renamed into place under a name that digests its recipe, so an
interrupted bootstrap is redone, never half-used, and a changed recipe builds afresh.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Callable
from pathlib import Path

from jobdata import write_directory
from jobdata.synth import REFERENCE_SUMMARIES_FILE

log = logging.getLogger(__name__)


def recipe_dir(cache: Path, name: str, recipe: dict) -> Path:
    """`cache/name-<digest of recipe>`: a changed recipe (more SFT steps, another ranker
    length) builds afresh instead of silently reusing what an older recipe left."""
    digest = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:10]
    return cache / f"{name}-{digest}"


def build_once(path: Path, build: Callable[[Path], None], what: str) -> Path:
    if path.exists():
        log.info("reusing %s at %s", what, path)
        return path
    log.info("building %s at %s (once)", what, path)
    return write_directory(path, build)


def synthetic_data(cache: Path, shape: str, n_items: int, n_queries: int, item_splits: bool) -> Path:
    from jobdata.synth import write_synthetic

    recipe = {"seed": 0, "shape": shape, "n_items": n_items, "n_queries": n_queries, "item_splits": item_splits}
    return build_once(recipe_dir(cache, "data", recipe), lambda out: write_synthetic(out, reference_summaries=True, **recipe), "synthetic data")


def corpus_tokenizer(cache: Path, data_dir: Path, vocab_size: int) -> Path:
    """A BPE tokenizer fitted to the data (ranker/corpus_tokenizer.py), for both tiny models."""
    from ranker.corpus_tokenizer import dataset_texts, train_corpus_tokenizer

    recipe = {"data": str(data_dir), "vocab_size": vocab_size}
    return build_once(recipe_dir(cache, "tokenizer", recipe), lambda out: train_corpus_tokenizer(dataset_texts(data_dir), vocab_size=vocab_size).save_pretrained(out), "corpus tokenizer")


def tiny_ranker(cache: Path, data_dir: Path, tokenizer_dir: Path | None, recipe: str, epochs: float, max_length: int | None, layers: int = 3, heads: int = 2) -> Path:
    """A tiny Qwen3 of `layers` and `heads` (`ranker.tiny`'s width) trained with
    `ranker.train`'s named `recipe` for `epochs` passes, on raw
    postings and on the reference summaries: a ranker that has only seen raw postings
    judges any short text as out of distribution, so the reward could not tell a faithful
    summary from a generic one. `max_length` None: the whole of every pair."""
    from transformers import AutoTokenizer

    from ranker.recipes import RECIPES
    from ranker.tiny import build_tiny_ranker
    from ranker.train import TrainOptions, train_ranker

    settings = {**RECIPES[recipe], "max_length": max_length, "epochs": epochs, "also_summaries": str(data_dir / REFERENCE_SUMMARIES_FILE), "eval_split": "", "save_steps": 100000}

    def build(out: Path) -> None:
        tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir) if tokenizer_dir else None
        init = build_tiny_ranker(out / "init", share_spellings=True, tokenizer=tokenizer, num_layers=layers, num_heads=heads)
        train_ranker(TrainOptions(data=str(data_dir), model=str(init), out=str(out / "model"), **settings))
        shutil.rmtree(out / "model" / "checkpoints", ignore_errors=True)
        shutil.rmtree(init)

    identity = {"data": str(data_dir), "tokenizer": str(tokenizer_dir), "layers": layers, "heads": heads, "recipe": recipe, "options": settings}
    return build_once(recipe_dir(cache, "ranker", identity), build, "tiny ranker") / "model"


def train_postings(data_dir: Path, split: str = "train") -> dict[str, str]:
    """Text of every posting that is a candidate of a `split` query, by item id."""
    from jobdata import load_dataset

    dataset = load_dataset(data_dir)
    ids = {qrel.item_id for query in dataset.queries_in(split) for qrel in dataset.candidates(query.query_id)}
    return {item_id: dataset.items[item_id].text for item_id in sorted(ids)}


def tiny_actor(cache: Path, data_dir: Path, tokenizer_dir: Path | None, sft_steps: int, max_prompt_tokens: int, lr: float) -> Path:
    """A random tiny Qwen3 warm-started by SFT on (posting, reference summary) pairs of the
    train split's postings only (with split postings, none of them is a test candidate),
    prompts cut as RL cuts them. SFT teaches the format and where the title, location and
    skills sit; RL then teaches what the ranker needs kept."""
    from transformers import AutoTokenizer

    from jobdata import load_summaries
    from rlsum.actor import build_tiny_actor, warm_start

    def build(out: Path) -> None:
        postings = train_postings(data_dir)
        summaries = load_summaries(data_dir / REFERENCE_SUMMARIES_FILE)
        ids = sorted(set(postings) & set(summaries))
        tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir) if tokenizer_dir else None
        init = build_tiny_actor(out / "init", tokenizer=tokenizer)
        warm_start(init, [postings[i] for i in ids], [summaries[i] for i in ids], out / "model", steps=sft_steps, lr=lr, max_prompt_tokens=max_prompt_tokens)
        shutil.rmtree(init)

    recipe = {"data": str(data_dir), "tokenizer": str(tokenizer_dir), "sft_steps": sft_steps, "max_prompt_tokens": max_prompt_tokens, "lr": lr, "postings": "train"}
    return build_once(recipe_dir(cache, "actor", recipe), build, "warm-started tiny actor") / "model"
