"""What a run achieved, from its metrics.jsonl rows: mean reward over the first and the
last `window` steps, the step-to-step noise (standard deviation of the per-step mean
reward within those windows, pooled), and the length ratio r = L_c / L_o and compression
1 - r reached; with its validation.jsonl rows, the held-out reward at the first and the
last validation."""

from __future__ import annotations

import json
import statistics
from pathlib import Path


def read_run_log(path: Path) -> list[dict]:
    """The rows of a run's JSON-lines log (metrics.jsonl, validation.jsonl); none if absent."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def summarize_run(rows: list[dict], window: int = 10, validation: list[dict] | None = None) -> dict:
    if len(rows) < 2:
        raise ValueError(f"need at least 2 steps to compare, got {len(rows)}")
    window = min(window, len(rows) // 2)
    first, last = rows[:window], rows[-window:]
    first_reward = [r["reward_mean"] for r in first]
    last_reward = [r["reward_mean"] for r in last]
    noise = ((statistics.pvariance(first_reward) + statistics.pvariance(last_reward)) / 2) ** 0.5
    summary = {
        "steps": rows[-1]["step"],
        "window": window,
        "reward_first": statistics.fmean(first_reward),
        "reward_last": statistics.fmean(last_reward),
        "reward_gain": statistics.fmean(last_reward) - statistics.fmean(first_reward),
        "step_noise": noise,
        "length_ratio_first": statistics.fmean(r["length_ratio"] for r in first),
        "length_ratio_last": statistics.fmean(r["length_ratio"] for r in last),
        "compression_first": statistics.fmean(r["compression"] for r in first),
        "compression_last": statistics.fmean(r["compression"] for r in last),
        "kl_first": statistics.fmean(r["kl_mean"] for r in first),
        "kl_last": statistics.fmean(r["kl_mean"] for r in last),
    }
    if validation and len(validation) >= 2:
        first_val, last_val = validation[0], validation[-1]
        summary.update({
            "val_steps": [first_val["step"], last_val["step"]],
            "val_reward_first": first_val["reward_mean"],
            "val_reward_last": last_val["reward_mean"],
            "val_kl_first": first_val["kl_mean"],
            "val_kl_last": last_val["kl_mean"],
            "val_distinct_last": last_val["distinct_fraction"],
        })
    return summary
