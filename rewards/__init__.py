"""Rewards for RL summarization. The maths (kl, penalties, composite) is pure and imports
nothing heavy; scorer, summary and verl_reward are the thin adapters around it."""

from rewards.composite import RewardParts, summary_reward
from rewards.kl import EPS, bernoulli_kl, mean_bernoulli_kl
from rewards.penalties import PENALTIES, get_penalty, p1, p2, register_penalty

__all__ = ["EPS", "PENALTIES", "RewardParts", "bernoulli_kl", "get_penalty", "mean_bernoulli_kl", "p1", "p2", "register_penalty", "summary_reward"]
