"""OSSCAR neuron selection (ranker.osscar), against brute force and hand-checkable
identities on small least-squares problems."""

import itertools

import pytest
import torch

from ranker.osscar import magnitude_select, osscar_select, reconstruction_error


def least_squares_problem(seed: int, n: int = 120, d: int = 9, m: int = 4):
    generator = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=generator, dtype=torch.float64) @ torch.randn(d, d, generator=generator, dtype=torch.float64)
    return X, torch.randn(m, d, generator=generator, dtype=torch.float64)


def refit_error(X, W, kept) -> float:
    """The best error keeping `kept`, by an independent least-squares solve."""
    target = X @ W.T
    fitted = X[:, kept] @ torch.linalg.lstsq(X[:, kept], target).solution
    return float((target - fitted).square().sum() / target.square().sum())


def test_reconstruction_error_from_the_hessian_equals_the_direct_error():
    X, W = least_squares_problem(0)
    kept = torch.tensor([0, 3, 4, 8])
    some_weights = torch.randn(W.shape[0], 4, dtype=torch.float64)
    direct = float((X @ W.T - X[:, kept] @ some_weights.T).square().sum() / (X @ W.T).square().sum())
    assert reconstruction_error(W, X.T @ X, kept, some_weights) == pytest.approx(direct, rel=1e-10)


@pytest.mark.parametrize("seed", range(6))
def test_osscar_refits_exactly_and_ends_at_a_swap_local_optimum(seed):
    X, W = least_squares_problem(seed)
    H = X.T @ X
    greedy = osscar_select(W, H, keep=4, damp=0.0)
    searched = osscar_select(W, H, keep=4, damp=0.0, swap_rounds=20)
    for selection in (greedy, searched):
        kept = selection.kept.tolist()
        assert kept == sorted(kept) and len(kept) == 4
        assert selection.error == pytest.approx(refit_error(X, W, selection.kept), rel=1e-8)  # the refit is the least-squares one
    assert searched.error <= greedy.error + 1e-12
    # The local search ends where no single swap helps: check every swap independently.
    kept = searched.kept.tolist()
    for out, into in itertools.product(kept, sorted(set(range(9)) - set(kept))):
        swapped = torch.tensor(sorted(set(kept) - {out} | {into}))
        assert refit_error(X, W, swapped) >= searched.error - 1e-12
    assert searched.error < magnitude_select(W, H, keep=4).error


def test_swaps_find_the_optimum_where_greedy_misses_it():
    # Seed 9 of this problem: greedy elimination keeps a set 58% worse than the optimum.
    X, W = least_squares_problem(9, d=10, m=5)
    H = X.T @ X
    optimum = min(refit_error(X, W, torch.tensor(s)) for s in itertools.combinations(range(10), 5))
    greedy = osscar_select(W, H, keep=5, damp=0.0)
    searched = osscar_select(W, H, keep=5, damp=0.0, swap_rounds=20)
    assert greedy.error > optimum * 1.05
    assert searched.swaps >= 1 and searched.error == pytest.approx(optimum, rel=1e-9)


def test_keeping_every_neuron_changes_nothing():
    X, W = least_squares_problem(1)
    selection = osscar_select(W, X.T @ X, keep=9, swap_rounds=5)
    assert selection.kept.tolist() == list(range(9)) and torch.equal(selection.weight, W) and selection.error == 0.0


def test_magnitude_keeps_the_largest_columns_unchanged():
    # Column norms 3, 1, 5, 2 (hand-picked): keeping two keeps columns 0 and 2 as they are.
    W = torch.tensor([[3.0, 0.0, 0.0, 2.0], [0.0, 1.0, 5.0, 0.0]], dtype=torch.float64)
    selection = magnitude_select(W, torch.eye(4, dtype=torch.float64), keep=2)
    assert selection.kept.tolist() == [0, 2] and torch.equal(selection.weight, W[:, [0, 2]])
    # With H = I the error is the dropped columns' share of ||W||^2: (1 + 4) / (9 + 1 + 25 + 4).
    assert selection.error == pytest.approx(5 / 39, rel=1e-12)


@pytest.mark.parametrize("select", [osscar_select, magnitude_select])
def test_a_kept_count_outside_the_layer_is_refused(select):
    W = torch.ones(2, 3, dtype=torch.float64)
    with pytest.raises(ValueError, match="keep must be in 1..3, got 4"):
        select(W, torch.eye(3, dtype=torch.float64), keep=4)
