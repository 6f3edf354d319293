"""Length penalties on the compression ratio r = L_c / L_o (summary tokens over original
tokens, both counted with the actor's tokenizer). Each is registered by name, so a config
string (`+penalty=p1`) selects it; all are <= 0 and elementwise."""

from __future__ import annotations

from collections.abc import Callable

from rewards.ops import as_array, as_input_type, where

PENALTIES: dict[str, Callable] = {}


def register_penalty(name: str):
    def register(fn: Callable) -> Callable:
        PENALTIES[name] = fn
        return fn

    return register


def get_penalty(name: str) -> Callable:
    if name not in PENALTIES:
        raise ValueError(f"unknown length penalty {name!r}; choose one of {sorted(PENALTIES)}")
    return PENALTIES[name]


def _check(l_orig, l_sum, w: float) -> None:
    """l_orig and l_sum come through `as_array`, so `.min()` works for every input type."""
    if w < 0:
        raise ValueError(f"penalty weight w must be >= 0, got {w}")
    if float(l_orig.min()) <= 0:
        raise ValueError(f"original length L_o must be > 0 tokens, got {float(l_orig.min())}")
    if float(l_sum.min()) < 0:
        raise ValueError(f"summary length L_c must be >= 0 tokens, got {float(l_sum.min())}")


@register_penalty("p1")
def p1(l_orig, l_sum, w: float, tau: float, m: float):
    """0 when L_o < m (short postings are left alone) or r <= tau (short enough);
    otherwise -w * ((r - tau) / (1 - tau))^2, which is -w at r = 1 and keeps growing beyond."""
    if not 0 <= tau < 1:
        raise ValueError(f"penalty tau must satisfy 0 <= tau < 1, got {tau}")
    if m < 0:
        raise ValueError(f"penalty m must be >= 0, got {m}")
    l_o, l_c = as_array(l_orig), as_array(l_sum)
    _check(l_o, l_c, w)
    r = l_c / l_o
    exempt = (l_o < m) | (r <= tau)
    penalty = where(exempt, 0.0 * r, -w * ((r - tau) / (1.0 - tau)) ** 2)
    return as_input_type(penalty, l_orig, l_sum)


@register_penalty("p2")
def p2(l_orig, l_sum, w: float):
    """-w * r^2: every token of the summary costs, the more the longer it is."""
    l_o, l_c = as_array(l_orig), as_array(l_sum)
    _check(l_o, l_c, w)
    return as_input_type(-w * (l_c / l_o) ** 2, l_orig, l_sum)
