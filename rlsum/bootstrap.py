"""Builds, once, what the CPU default needs and no download provides: the synthetic data
(with reference summaries), a tiny ranker trained by ranker.train, and a tiny actor
warm-started by SFT on the reference summaries. Each piece is built in a temporary
directory and renamed into place, so an interrupted bootstrap is redone, never half-used.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from pathlib import Path

from rlsum.data.synth import REFERENCE_SUMMARIES_FILE

log = logging.getLogger(__name__)


def build_once(path: Path, build: Callable[[Path], None], what: str) -> Path:
    if path.exists():
        log.info("reusing %s at %s", what, path)
        return path
    temp = path.with_name(path.name + ".tmp")
    shutil.rmtree(temp, ignore_errors=True)
    temp.mkdir(parents=True)
    log.info("building %s at %s (once)", what, path)
    build(temp)
    temp.rename(path)
    return path


def synthetic_data(cache: Path) -> Path:
    from rlsum.data.synth import write_synthetic

    return build_once(cache / "data", lambda out: write_synthetic(out, seed=0, reference_summaries=True), "synthetic data")


def tiny_ranker(cache: Path, data_dir: Path, epochs: float, max_length: int) -> Path:
    from ranker.tiny import build_tiny_ranker
    from ranker.train import main as train_ranker

    def build(out: Path) -> None:
        init = build_tiny_ranker(out / "init", share_spellings=True)
        # The demo's losses (scripts/demo.sh) at RL's own length and epochs: the demo reads
        # 64 tokens, but the RL ranker must see past the title to judge summaries.
        train_ranker(["--data", str(data_dir), "--model", str(init), "--out", str(out / "model"), "--max-length", str(max_length), "--lexical-match-weight", "1.0", "--graded-targets", "--epochs", str(epochs), "--lr", "3e-3", "--eval-split", ""])
        shutil.rmtree(out / "model" / "checkpoints", ignore_errors=True)

    return build_once(cache / "ranker", build, "tiny ranker") / "model"


def tiny_actor(cache: Path, data_dir: Path, sft_steps: int, max_prompt_tokens: int) -> Path:
    from rlsum.actor import build_tiny_actor, warm_start
    from rlsum.data import load_items, load_summaries

    def build(out: Path) -> None:
        items = load_items(data_dir / "items.jsonl")
        summaries = load_summaries(data_dir / REFERENCE_SUMMARIES_FILE, set(items))
        ids = sorted(summaries)
        init = build_tiny_actor(out / "init")
        warm_start(init, [items[i].text for i in ids], [summaries[i] for i in ids], out / "model", steps=sft_steps, max_prompt_tokens=max_prompt_tokens)
        shutil.rmtree(init)

    return build_once(cache / "actor", build, "warm-started tiny actor") / "model"
