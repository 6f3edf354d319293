"""Builds, once, what the CPU default needs and no download provides: the synthetic data
(with reference summaries), a tiny ranker trained with ranker.train's tiny-from-scratch
recipe, and a tiny actor warm-started by SFT on the reference summaries. Each piece is
built in a temporary directory and renamed into place, so an interrupted bootstrap is
redone, never half-used.
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


def synthetic_data(cache: Path) -> Path:
    from jobdata.synth import write_synthetic

    return build_once(cache / "data", lambda out: write_synthetic(out, seed=0, reference_summaries=True), "synthetic data")


def tiny_ranker(cache: Path, data_dir: Path, epochs: float, max_length: int | None) -> Path:
    """The demo's ranker recipe (`tiny-from-scratch`, as scripts/demo.sh trains it) for
    fewer passes, trained on the reference summaries too: a ranker that has only seen raw
    postings judges any short text as out of distribution, so the reward could not tell a
    faithful summary from a generic one."""
    from ranker.recipes import RECIPES
    from ranker.tiny import build_tiny_ranker
    from ranker.train import TrainOptions, train_ranker

    settings = {**RECIPES["tiny-from-scratch"], "max_length": max_length, "epochs": epochs, "also_summaries": str(data_dir / REFERENCE_SUMMARIES_FILE), "eval_split": "", "save_steps": 100000}

    def build(out: Path) -> None:
        init = build_tiny_ranker(out / "init", share_spellings=True)
        train_ranker(TrainOptions(data=str(data_dir), model=str(init), out=str(out / "model"), **settings))
        shutil.rmtree(out / "model" / "checkpoints", ignore_errors=True)
        shutil.rmtree(init)

    return build_once(recipe_dir(cache, "ranker", {"data": str(data_dir), "options": settings}), build, "tiny ranker") / "model"


def tiny_actor(cache: Path, data_dir: Path, sft_steps: int, max_prompt_tokens: int, lr: float) -> Path:
    """A random tiny Qwen3 warm-started by SFT on (posting, reference summary) pairs, with
    the prompt cut as RL cuts it. The reference summary holds the title, location and
    skills; with short prompts only the title is in view, so SFT teaches the format and
    to copy the title, and leaves RL what imitation cannot fix (details it cannot see)."""
    from rlsum.actor import build_tiny_actor, warm_start
    from jobdata import load_items, load_summaries

    def build(out: Path) -> None:
        items = load_items(data_dir / "items.jsonl")
        summaries = load_summaries(data_dir / REFERENCE_SUMMARIES_FILE, set(items))
        ids = sorted(summaries)
        init = build_tiny_actor(out / "init")
        warm_start(init, [items[i].text for i in ids], [summaries[i] for i in ids], out / "model", steps=sft_steps, lr=lr, max_prompt_tokens=max_prompt_tokens)
        shutil.rmtree(init)

    recipe = {"data": str(data_dir), "sft_steps": sft_steps, "max_prompt_tokens": max_prompt_tokens, "lr": lr}
    return build_once(recipe_dir(cache, "actor", recipe), build, "warm-started tiny actor") / "model"
