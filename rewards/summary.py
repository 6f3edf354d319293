"""Rewards for generated summaries: pair each summary with its item's queries, get P(Yes)
from a scorer, and apply `summary_reward`. Used by the verl adapter (one summary per
call) and the embedded engine (a whole rollout batch per call) alike; `reward_metrics`
gives a batch's reward fields of a metrics.jsonl (or validation.jsonl) row on either
engine.

Defined edge cases: an empty (or all-whitespace) summary is scored like any other text,
so the ranker's verdict on "no information" sets its KL; a generation cut at the length
limit is scored as it stands and `cut_penalty` (<= 0, default 0) is added to its reward.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from jobdata.rl_rows import ItemTask
from rewards.composite import RewardParts, summary_reward
from rewards.penalties import get_penalty
from rewards.scorer import Scorer


@dataclass(frozen=True)
class RewardConfig:
    penalty: str = "p2"
    penalty_params: dict = field(default_factory=lambda: {"w": 0.3})
    cut_penalty: float = 0.0

    def __post_init__(self):
        fn = get_penalty(self.penalty)
        try:
            fn(1.0, 0.0, **self.penalty_params)  # checks every parameter's range
        except TypeError as error:
            raise ValueError(f"penalty {self.penalty!r}: bad parameters {sorted(self.penalty_params)} ({error})") from None
        if self.cut_penalty > 0:
            raise ValueError(f"cut_penalty must be <= 0, got {self.cut_penalty}")

    @classmethod
    def from_penalty(cls, penalty, cut_penalty: float = 0.0) -> "RewardConfig":
        """From a penalty section {name, **params} (the training config's `penalty`)."""
        return cls(penalty["name"], {k: v for k, v in penalty.items() if k != "name"}, cut_penalty)


def summary_pairs(summaries: list[str], tasks: list[ItemTask]) -> list[tuple[str, str]]:
    """(query, summary) for every query of every summary's item, summary by summary."""
    return [(query, summary) for summary, task in zip(summaries, tasks) for query in task.queries]


def rewards_from_p_sum(p_sum, tasks: list[ItemTask], l_sums: list[int], cuts: list[bool], config: RewardConfig) -> list[RewardParts]:
    """Rewards given P(Yes) of every pair of `summary_pairs`, in that order."""
    parts, start = [], 0
    for task, l_sum, cut in zip(tasks, l_sums, cuts):
        end = start + len(task.queries)
        reward = summary_reward(p_sum[start:end], task.p_raw, task.l_orig, l_sum, config.penalty, **config.penalty_params)
        if cut and config.cut_penalty:
            reward = replace(reward, reward=reward.reward + config.cut_penalty, penalty=reward.penalty + config.cut_penalty)
        parts.append(reward)
        start = end
    return parts


def score_summaries(scorer: Scorer, summaries: list[str], tasks: list[ItemTask], l_sums: list[int], cuts: list[bool], config: RewardConfig) -> list[RewardParts]:
    """All summaries' pairs in one scorer call, then their rewards."""
    if not (len(summaries) == len(tasks) == len(l_sums) == len(cuts)):
        raise ValueError(f"summaries, tasks, l_sums and cuts must have one entry per summary, got {len(summaries)}, {len(tasks)}, {len(l_sums)}, {len(cuts)}")
    return rewards_from_p_sum(scorer.score(summary_pairs(summaries, tasks)), tasks, l_sums, cuts, config)


def reward_metrics(parts: list[RewardParts], summaries: list[str], summary_tokens: list[int], cut: list[bool]) -> dict[str, float]:
    """The reward fields of a step's (or a validation's) metrics row: means of the parts,
    `length_ratio` = mean L_c / L_o and `compression` = 1 - `length_ratio` (DESIGN.md).
    `distinct_fraction` (unique summaries over samples) falls towards 1 / samples when the
    policy collapses to one summary for every posting, which a rising reward alone does
    not reveal."""
    rewards = [p.reward for p in parts]
    length_ratio = float(np.mean([p.length_ratio for p in parts]))
    return {
        "reward_mean": float(np.mean(rewards)),
        "reward_std": float(np.std(rewards, ddof=1)) if len(rewards) > 1 else 0.0,
        "kl_mean": float(np.mean([p.kl for p in parts])),
        "penalty_mean": float(np.mean([p.penalty for p in parts])),
        "length_ratio": length_ratio,
        "compression": 1.0 - length_ratio,
        "response_length": float(np.mean(summary_tokens)),
        "cut_fraction": float(np.mean(cut)),
        "distinct_fraction": len(set(summaries)) / len(summaries),
    }
