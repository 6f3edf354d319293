"""Bernoulli KL divergence between the ranker's P(Yes) on a summary and on the raw text."""

from __future__ import annotations

from rewards.ops import as_array, as_input_type, clip, log

# P(Yes) is clamped to [EPS, 1 - EPS] before the logs: a ranker that is certain (p = 0 or
# 1 in float32) would otherwise give an infinite KL and a NaN advantage. With 1e-6 the
# KL is bounded by about 13.8, far above anything a useful summary scores.
EPS = 1e-6


def bernoulli_kl(p_sum, p_raw, eps: float = EPS):
    """KL(Bern(p_sum) || Bern(p_raw)) = p_s log(p_s/p_r) + (1-p_s) log((1-p_s)/(1-p_r)),
    elementwise on floats, numpy arrays or torch tensors."""
    p_s = clip(as_array(p_sum), eps, 1.0 - eps)
    p_r = clip(as_array(p_raw), eps, 1.0 - eps)
    kl = p_s * (log(p_s) - log(p_r)) + (1.0 - p_s) * (log(1.0 - p_s) - log(1.0 - p_r))
    return as_input_type(kl, p_sum, p_raw)


def mean_bernoulli_kl(p_sum, p_raw, eps: float = EPS) -> float:
    """The KL averaged over the queries paired with one item (1-D sequences of P(Yes))."""
    p_sum, p_raw = as_array(p_sum), as_array(p_raw)
    if len(p_sum) != len(p_raw) or len(p_sum) == 0:
        raise ValueError(f"need the same non-zero number of summary and raw probabilities, got {len(p_sum)} and {len(p_raw)}")
    return float(bernoulli_kl(p_sum, p_raw, eps).mean())
