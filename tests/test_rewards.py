"""Reward maths against hand-worked values: Bernoulli KL, the P1 branches, P2, the composite."""

import math

import numpy as np
import pytest
import torch

import rewards
from rewards import bernoulli_kl, get_penalty, mean_bernoulli_kl, p1, p2, summary_reward


def test_bernoulli_kl_hand_worked():
    # KL(0.8 || 0.5) = 0.8 ln 1.6 + 0.2 ln 0.4
    assert bernoulli_kl(0.8, 0.5) == pytest.approx(0.8 * math.log(1.6) + 0.2 * math.log(0.4), rel=1e-9)
    assert bernoulli_kl(0.1, 0.3) == pytest.approx(0.1 * math.log(1 / 3) + 0.9 * math.log(0.9 / 0.7), rel=1e-9)
    assert isinstance(bernoulli_kl(0.8, 0.5), float)


def test_bernoulli_kl_is_clamped_at_certainty():
    eps = rewards.EPS
    expected = (1 - eps) * math.log((1 - eps) / eps) + eps * math.log(eps / (1 - eps))
    assert bernoulli_kl(1.0, 0.0) == pytest.approx(expected, rel=1e-9)
    assert math.isfinite(bernoulli_kl(0.0, 1.0))
    assert bernoulli_kl(1.0, 1.0) == pytest.approx(0.0, abs=1e-12)


def test_bernoulli_kl_properties_on_random_probabilities():
    rng = np.random.default_rng(0)
    p, q = rng.uniform(0, 1, 10_000), rng.uniform(0, 1, 10_000)
    kl = bernoulli_kl(p, q)
    assert kl.shape == p.shape and (kl >= 0).all()
    assert np.abs(bernoulli_kl(p, p)).max() < 1e-12  # zero iff equal
    assert (kl[np.abs(p - q) > 1e-3] > 0).all()


def test_bernoulli_kl_on_torch_matches_numpy():
    p, q = np.array([0.2, 0.9, 0.5]), np.array([0.4, 0.6, 0.5])
    torch_kl = bernoulli_kl(torch.tensor(p), torch.tensor(q))
    assert isinstance(torch_kl, torch.Tensor)
    np.testing.assert_allclose(torch_kl.numpy(), bernoulli_kl(p, q), rtol=1e-12)


def test_mean_kl_averages_over_the_items_queries():
    assert mean_bernoulli_kl([0.8, 0.1], [0.5, 0.3]) == pytest.approx((bernoulli_kl(0.8, 0.5) + bernoulli_kl(0.1, 0.3)) / 2)
    with pytest.raises(ValueError, match="same non-zero number"):
        mean_bernoulli_kl([0.5], [0.5, 0.4])


def test_p1_branches():
    # L_o < m: exempt however long the summary is
    assert p1(l_orig=100, l_sum=90, w=0.5, tau=0.2, m=200) == 0.0
    # r <= tau: exempt
    assert p1(l_orig=1000, l_sum=200, w=0.5, tau=0.2, m=200) == 0.0
    # r > tau: r = 0.6 -> -0.5 * ((0.6 - 0.2) / 0.8)^2 = -0.125
    assert p1(l_orig=1000, l_sum=600, w=0.5, tau=0.2, m=200) == pytest.approx(-0.125)
    # r = 1 costs exactly w; r > 1 (a "summary" longer than the text) costs more
    assert p1(l_orig=500, l_sum=500, w=0.5, tau=0.2, m=0) == pytest.approx(-0.5)
    assert p1(l_orig=500, l_sum=1000, w=0.5, tau=0.2, m=0) == pytest.approx(-0.5 * (1.8 / 0.8) ** 2)
    # exactly L_o == m is not exempt
    assert p1(l_orig=200, l_sum=100, w=1.0, tau=0.0, m=200) == pytest.approx(-0.25)


def test_p2_hand_worked_and_elementwise():
    assert p2(l_orig=800, l_sum=200, w=0.3) == pytest.approx(-0.3 * 0.25**2)
    assert p2(l_orig=100, l_sum=150, w=0.3) == pytest.approx(-0.3 * 1.5**2)
    np.testing.assert_allclose(p2(np.array([100, 400]), np.array([50, 100]), 1.0), [-0.25, -0.0625])
    out = p1(torch.tensor([100.0, 1000.0]), torch.tensor([90.0, 600.0]), w=0.5, tau=0.2, m=200)
    assert out.tolist() == pytest.approx([0.0, -0.125])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: p1(100, 10, w=-0.1, tau=0.2, m=0), "w must be >= 0"),
        (lambda: p1(100, 10, w=0.1, tau=1.0, m=0), "0 <= tau < 1"),
        (lambda: p1(100, 10, w=0.1, tau=-0.1, m=0), "0 <= tau < 1"),
        (lambda: p1(100, 10, w=0.1, tau=0.2, m=-1), "m must be >= 0"),
        (lambda: p2(0, 10, w=0.1), "L_o must be > 0"),
        (lambda: p2(np.array([10, -1]), np.array([1, 1]), w=0.1), "L_o must be > 0"),
        (lambda: p2(10, -1, w=0.1), "L_c must be >= 0"),
        (lambda: get_penalty("p3"), "unknown length penalty 'p3'"),
    ],
)
def test_bad_penalty_parameters_name_the_parameter(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_composite_reward_is_minus_kl_plus_penalty():
    parts = summary_reward([0.8, 0.1], [0.5, 0.3], l_orig=800, l_sum=100, penalty="p2", w=0.3)
    kl = (bernoulli_kl(0.8, 0.5) + bernoulli_kl(0.1, 0.3)) / 2
    assert parts.kl == pytest.approx(kl)
    assert parts.penalty == pytest.approx(-0.3 / 64)
    assert parts.reward == pytest.approx(-kl - 0.3 / 64)
    assert parts.length_ratio == pytest.approx(0.125)
    assert set(parts.as_dict()) == {"reward", "kl", "penalty", "length_ratio"}
    assert summary_reward([0.4], [0.4], 800, 100, "p1", w=1.0, tau=0.2, m=0).reward == pytest.approx(0.0)


def test_run_summary_compares_first_and_last_windows():
    from rlsum.run_summary import summarize_run

    rows = [{"step": i + 1, "reward_mean": r, "length_ratio": c, "compression": 1 - c, "kl_mean": 0.1} for i, (r, c) in enumerate([(-1.0, 0.5), (-0.8, 0.5), (-0.3, 0.2), (-0.1, 0.2)])]
    out = summarize_run(rows, window=2)
    assert out["reward_first"] == pytest.approx(-0.9) and out["reward_last"] == pytest.approx(-0.2)
    assert out["reward_gain"] == pytest.approx(0.7)
    assert out["step_noise"] == pytest.approx(0.1)  # both windows have population std 0.1
    assert (out["length_ratio_first"], out["length_ratio_last"]) == pytest.approx((0.5, 0.2))
    assert (out["compression_first"], out["compression_last"]) == pytest.approx((0.5, 0.8))
    assert "val_reward_first" not in out  # no validation rows

    validation = [{"step": s, "reward_mean": r, "kl_mean": -r, "distinct_fraction": d} for s, r, d in [(0, -0.5, 1.0), (2, -0.4, 1.0), (4, -0.25, 0.75)]]
    out = summarize_run(rows, window=2, validation=validation)
    assert out["val_steps"] == [0, 4]
    assert (out["val_reward_first"], out["val_reward_last"]) == (-0.5, -0.25)
    assert (out["val_kl_first"], out["val_kl_last"], out["val_distinct_last"]) == (0.5, 0.25, 0.75)


def test_reward_metrics_of_a_batch_hand_worked():
    from rewards.composite import RewardParts
    from rewards.summary import reward_metrics

    parts = [RewardParts(reward=-0.5, kl=0.4, penalty=-0.1, length_ratio=0.25), RewardParts(reward=-0.3, kl=0.25, penalty=-0.05, length_ratio=0.35)]
    out = reward_metrics(parts, ["same", "same"], [2, 8], [False, True])
    assert out == {
        "reward_mean": pytest.approx(-0.4),
        "reward_std": pytest.approx(math.sqrt(0.1**2 + 0.1**2)),  # sample std (ddof 1) of -0.5, -0.3
        "kl_mean": pytest.approx(0.325),
        "penalty_mean": pytest.approx(-0.075),
        "length_ratio": pytest.approx(0.3),  # mean L_c / L_o
        "compression": pytest.approx(0.7),  # 1 - length_ratio
        "response_length": 5.0,
        "cut_fraction": 0.5,
        "distinct_fraction": 0.5,  # one summary text for two samples
    }
    assert reward_metrics(parts[:1], ["x"], [2], [False])["reward_std"] == 0.0


def test_summary_length_is_the_tokens_before_the_end_of_turn_and_cut_means_none_within_the_limit():
    from rewards.length import summary_length

    EOT, PAD = 151645, 151643
    assert summary_length([5, 6, 7, EOT], EOT, 8) == (3, False)
    assert summary_length([5, 6, 7, EOT, PAD, PAD], EOT, 8) == (3, False)  # padding after the turn is ignored
    assert summary_length([EOT], EOT, 8) == (0, False)  # the empty summary ended its turn
    assert summary_length([5, 6, 7, 8], EOT, 4) == (4, True)  # the limit reached without an end of turn
    assert summary_length([5, 6, 7, 8, EOT], EOT, 4) == (4, True)  # an end of turn past the limit does not count
    assert summary_length([5, 6, 7, EOT], EOT, 4) == (3, False)  # ending on the last allowed token is not a cut
    assert summary_length([5, 6], EOT, 4) == (2, True)  # stopped early without an end of turn
    assert summary_length(torch.tensor([5, PAD, 6]), [EOT, PAD], 8) == (1, False)  # several end tokens, a tensor
    with pytest.raises(ValueError, match="max_tokens must be >= 1"):
        summary_length([5], EOT, 0)


def test_decode_summary_is_the_text_of_the_counted_tokens():
    from ranker.tokenizer import load_qwen3_tokenizer
    from rewards.length import decode_summary, end_of_turn_id

    tokenizer = load_qwen3_tokenizer()
    eot, pad = end_of_turn_id(tokenizer), tokenizer.pad_token_id
    ids = tokenizer("Data engineer, Seattle.", add_special_tokens=False)["input_ids"]
    assert decode_summary(tokenizer, ids + [eot, pad, pad], 32) == ("Data engineer, Seattle.", len(ids), False)
    assert decode_summary(tokenizer, ids, 3) == (tokenizer.decode(ids[:3]), 3, True)  # cut at the limit
    assert decode_summary(tokenizer, [eot], 8) == ("", 0, False)
