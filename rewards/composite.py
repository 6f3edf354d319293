"""The summary reward: -KL(p_sum || p_raw) averaged over the item's queries, plus a length
penalty. Returns its parts so every one of them can be logged."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from rewards.kl import mean_bernoulli_kl
from rewards.penalties import get_penalty


@dataclass(frozen=True)
class RewardParts:
    reward: float  # -kl + penalty
    kl: float  # mean Bernoulli KL over the item's queries
    penalty: float  # <= 0
    length_ratio: float  # r = L_c / L_o (compression is 1 - r)

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def summary_reward(p_sum, p_raw, l_orig: int, l_sum: int, penalty: str, **penalty_params) -> RewardParts:
    """Reward of one summary: p_sum / p_raw are the ranker's P(Yes) for each of the item's
    queries on the summary and on the raw text; l_orig / l_sum are token counts."""
    kl = mean_bernoulli_kl(p_sum, p_raw)
    length_penalty = float(get_penalty(penalty)(float(l_orig), float(l_sum), **penalty_params))
    return RewardParts(reward=-kl + length_penalty, kl=kl, penalty=length_penalty, length_ratio=l_sum / l_orig)
