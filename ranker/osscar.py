"""OSSCAR structured pruning of MLP neurons, as pure linear algebra (Meng et al., ICML 2024).

An MLP's output is Y = X W^T, where X [n, d] holds the down projection's inputs (one
column per neuron) and W [m, d] is `down_proj.weight`. Keeping a neuron set S and refitting
W_S by least squares leaves the error

    E(S) = ||X W^T - X_S W_S^T||^2,  W_S = W H[:, S] H_SS^-1,  H = X^T X (+ dampening),

and OSSCAR chooses S of a given size by
1. greedy backward elimination: from all neurons, repeatedly drop the one whose removal
   (with the remaining weights refit) costs least, ||W_S[:, j]||^2 / (H_SS^-1)_jj, updating
   W_S and H_SS^-1 by rank-one steps;
2. local search by swaps: add the pruned neuron with the largest error reduction, then drop
   the cheapest neuron of the enlarged set; repeat while that is not the one just added
   (each accepted swap lowers E exactly).

Only H and W enter, so calibration streams X into H and never keeps it. Everything here
is float64 torch on whatever device H lives; no model, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class NeuronSelection:
    kept: torch.Tensor  # sorted indices of the kept neurons
    weight: torch.Tensor  # [m, k] the refit (or, for magnitude, unchanged) down-projection columns
    error: float  # E(S) relative to ||X W^T||^2
    swaps: int = 0


def dampened(hessian: torch.Tensor, damp: float) -> torch.Tensor:
    """H + damp * mean(diag H) * I: keeps H_SS invertible when neurons are dead or collinear."""
    hessian = hessian.double()
    return hessian + damp * hessian.diagonal().mean().clamp(min=1e-12) * torch.eye(hessian.shape[0], dtype=hessian.dtype, device=hessian.device)


def reconstruction_error(weight: torch.Tensor, hessian: torch.Tensor, kept: torch.Tensor, kept_weight: torch.Tensor) -> float:
    """||X W^T - X_S W_S^T||^2 / ||X W^T||^2, from H = X^T X alone."""
    weight, hessian, kept_weight = weight.double(), hessian.double(), kept_weight.double()
    full = torch.einsum("md,de,me->", weight, hessian, weight)
    cross = torch.einsum("md,dk,mk->", weight, hessian[:, kept], kept_weight)
    pruned = torch.einsum("mk,kl,ml->", kept_weight, hessian[kept][:, kept], kept_weight)
    return float((full - 2 * cross + pruned) / full.clamp(min=1e-300))


def _inverse(matrix: torch.Tensor) -> torch.Tensor:
    return torch.cholesky_inverse(torch.linalg.cholesky(matrix))


def _drop(weight_s: torch.Tensor, hinv: torch.Tensor, position: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Remove the neuron at `position` of S: refit the others, downdate H_SS^-1."""
    pivot = hinv[position, position]
    weight_s = weight_s - torch.outer(weight_s[:, position], hinv[position]) / pivot
    hinv = hinv - torch.outer(hinv[:, position], hinv[position]) / pivot
    keep = torch.arange(hinv.shape[0], device=hinv.device) != position
    return weight_s[:, keep], hinv[keep][:, keep]


def _removal_costs(weight_s: torch.Tensor, hinv: torch.Tensor) -> torch.Tensor:
    return weight_s.square().sum(dim=0) / hinv.diagonal()


def _best_swap(WH: torch.Tensor, H: torch.Tensor, kept: torch.Tensor, hinv: torch.Tensor, tries: int):
    """One improving swap, or None. Pruned neurons are tried in order of the error their
    addition would remove (up to `tries`); a swap is taken when, after adding one, the
    cheapest neuron to drop is another: E then falls by gain(added) - cost(dropped) > 0."""
    d = H.shape[0]
    pruned = torch.ones(d, dtype=torch.bool, device=H.device)
    pruned[kept] = False
    candidates = pruned.nonzero().flatten()
    cross = H[kept][:, candidates]  # H_S,P
    solved = hinv @ cross
    schur = H.diagonal()[candidates] - (cross * solved).sum(dim=0)
    residual = WH[:, candidates] - WH[:, kept] @ solved
    gain = residual.square().sum(dim=0) / schur
    for best in torch.argsort(gain, descending=True)[:tries].tolist():
        b, c = solved[:, best], schur[best]
        # H_S'S'^-1 for S' = S + {added} by the block-inverse formula; W_S' refit from it.
        enlarged_hinv = torch.cat([torch.cat([hinv + torch.outer(b, b) / c, -b[:, None] / c], dim=1), torch.cat([-b[None] / c, (1 / c).reshape(1, 1)], dim=1)])
        enlarged = torch.cat([kept, candidates[best : best + 1]])
        weight_s = WH[:, enlarged] @ enlarged_hinv
        position = int(torch.argmin(_removal_costs(weight_s, enlarged_hinv)))
        if position != len(kept):
            weight_s, new_hinv = _drop(weight_s, enlarged_hinv, position)
            return torch.cat([enlarged[:position], enlarged[position + 1 :]]), weight_s, new_hinv
    return None


def osscar_select(weight: torch.Tensor, hessian: torch.Tensor, keep: int, damp: float = 0.01, swap_rounds: int = 0, swap_candidates: int = 16) -> NeuronSelection:
    """Keep `keep` of the d neurons of `weight` [m, d] given the calibration Hessian [d, d]."""
    d = weight.shape[1]
    if not 0 < keep <= d:
        raise ValueError(f"keep must be in 1..{d}, got {keep}")
    H = dampened(hessian, damp)
    W = weight.double().to(H.device)
    kept = torch.arange(d, device=H.device)
    hinv = _inverse(H)
    weight_s = W.clone()
    for _ in range(d - keep):
        position = int(torch.argmin(_removal_costs(weight_s, hinv)))
        weight_s, hinv = _drop(weight_s, hinv, position)
        kept = torch.cat([kept[:position], kept[position + 1 :]])

    swaps = 0
    WH = W @ H
    for _ in range(swap_rounds if keep < d else 0):
        swapped = _best_swap(WH, H, kept, hinv, tries=swap_candidates)
        if swapped is None:  # no pruned neuron improves the set: a local optimum
            break
        kept, weight_s, hinv = swapped
        swaps += 1

    order = torch.argsort(kept)
    kept, weight_s = kept[order], weight_s[:, order]
    return NeuronSelection(kept, weight_s, reconstruction_error(W, dampened(hessian, 0.0), kept, weight_s), swaps)


def magnitude_select(weight: torch.Tensor, hessian: torch.Tensor, keep: int) -> NeuronSelection:
    """The baseline: keep the neurons whose down-projection columns have the largest L2
    norm, weights unchanged (no calibration, no refit); `hessian` only measures the error."""
    d = weight.shape[1]
    if not 0 < keep <= d:
        raise ValueError(f"keep must be in 1..{d}, got {keep}")
    kept = torch.sort(torch.topk(weight.double().norm(dim=0), keep).indices).values
    kept_weight = weight.double()[:, kept]
    return NeuronSelection(kept, kept_weight, reconstruction_error(weight, hessian.to(weight.device), kept, kept_weight))


NEURON_SELECTORS = {"osscar": osscar_select, "magnitude": magnitude_select}
