"""The reward adapter driven through verl's own reward-manager loader, checked against
the ranker scored directly and the reward formula computed by hand."""

import math

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from ranker.scoring import load_ranker
from rewards.length import end_of_turn_id
from rewards.scorer import AsyncBatchingScorer, RankerScorer
from rewards.summary import ItemTask, RewardConfig, score_summaries
from rewards.verl_reward import SummaryRewardManager, verl_reward_section

QUERIES = ["senior data engineer jobs in seattle", "remote spark roles"]
P_RAW = [0.7, 0.2]


def by_hand(ranker, summary, l_orig, l_sum, w):
    p_sum = ranker.score_pairs([(q, summary) for q in QUERIES]).p_yes
    kl = np.mean([p * math.log(p / r) + (1 - p) * math.log((1 - p) / (1 - r)) for p, r in zip(p_sum, P_RAW)])
    return -kl - w * (l_sum / l_orig) ** 2


def reward_manager(ranker_dir, max_response_tokens, w, cut_penalty=0.0):
    """Our reward manager as verl's reward loop loads it: `load_reward_manager` on the
    `reward:` section `verl_reward_section` writes."""
    from verl.trainer.ppo.reward import load_reward_manager

    from ranker.tokenizer import load_qwen3_tokenizer

    section = verl_reward_section(RewardConfig("p2", {"w": w}, cut_penalty), ranker_dir, max_response_tokens, ranker_device="cpu")
    config = OmegaConf.create({"reward": section, "actor_rollout_ref": {"rollout": {"response_length": max_response_tokens}}})
    manager = load_reward_manager(config, load_qwen3_tokenizer())
    assert isinstance(manager, SummaryRewardManager)
    return manager, load_qwen3_tokenizer()


def sample(tokenizer, response, response_width=32):
    """One row as verl's agent loop hands it to the reward: `response` is the generated
    token ids (end-of-turn included when the turn ended), right-padded."""
    from verl import DataProto

    prompt = tokenizer("Summarize the job posting.", add_special_tokens=False)["input_ids"]
    padded = response + [tokenizer.pad_token_id] * (response_width - len(response))
    mask = [1] * (len(prompt) + len(response)) + [0] * (response_width - len(response))
    return DataProto.from_dict(
        tensors={"prompts": torch.tensor([prompt]), "responses": torch.tensor([padded]), "attention_mask": torch.tensor([mask])},
        non_tensors={
            "data_source": np.array(["synthetic-jobs"], dtype=object),
            "reward_model": np.array([{"ground_truth": P_RAW, "style": "ranker"}], dtype=object),
            "extra_info": np.array([{"item_id": "job-1", "queries": QUERIES, "l_orig": 400}], dtype=object),
        },
    )


@pytest.mark.slow  # over 5 s; the fast loop skips it
def test_verl_reward_manager_drives_the_adapter_end_to_end(tiny_model_dirs):
    manager, tokenizer = reward_manager(tiny_model_dirs["qwen3"], max_response_tokens=32, w=0.3)
    summary = "Senior Data Engineer, Seattle, hybrid; Spark, Kafka, Python."
    ids = tokenizer(summary, add_special_tokens=False)["input_ids"]
    out = manager.loop.run_until_complete(manager.run_single(sample(tokenizer, ids + [end_of_turn_id(tokenizer)])))
    ranker = load_ranker(tiny_model_dirs["qwen3"])
    assert out["reward_score"] == pytest.approx(by_hand(ranker, summary, 400, len(ids), 0.3), abs=1e-6)
    info = out["reward_extra_info"]
    assert info["summary_tokens"] == len(ids) and info["cut"] == 0.0  # L_c: generated tokens before the end of turn
    assert info["length_ratio"] == pytest.approx(len(ids) / 400)
    assert info["score"] == pytest.approx(-info["kl"] + info["penalty"])


def test_cut_and_empty_summaries_get_a_defined_reward(tiny_model_dirs):
    manager, tokenizer = reward_manager(tiny_model_dirs["qwen3"], max_response_tokens=4, w=0.3, cut_penalty=-0.5)
    ranker = load_ranker(tiny_model_dirs["qwen3"])
    # No end of turn within the 4-token limit: cut, L_c = 4, the summary is those 4 tokens.
    long_ids = tokenizer("Senior Data Engineer in Seattle working with Spark and Kafka every day", add_special_tokens=False)["input_ids"]
    out = manager.loop.run_until_complete(manager.run_single(sample(tokenizer, long_ids[:4])))
    assert out["reward_extra_info"]["cut"] == 1.0 and out["reward_extra_info"]["summary_tokens"] == 4
    assert out["reward_score"] == pytest.approx(by_hand(ranker, tokenizer.decode(long_ids[:4]), 400, 4, 0.3) - 0.5, abs=1e-6)
    # A 4-token summary that ends its turn on the 5th token was not cut, whatever its text's length.
    ended = manager.loop.run_until_complete(manager.run_single(sample(tokenizer, long_ids[:3] + [end_of_turn_id(tokenizer)])))
    assert ended["reward_extra_info"]["cut"] == 0.0 and ended["reward_extra_info"]["summary_tokens"] == 3
    # An immediate end of turn: the empty summary, scored like any text.
    out = manager.loop.run_until_complete(manager.run_single(sample(tokenizer, [end_of_turn_id(tokenizer)])))
    assert out["reward_extra_info"]["summary_tokens"] == 0 and out["reward_extra_info"]["cut"] == 0.0
    assert out["reward_score"] == pytest.approx(by_hand(ranker, "", 400, 0, 0.3), abs=1e-6)


def test_each_scored_summary_is_one_log_line_when_asked(tiny_model_dirs, tmp_path, monkeypatch):
    import json

    from rewards.verl_reward import REWARD_LOG_ENV

    manager, tokenizer = reward_manager(tiny_model_dirs["qwen3"], max_response_tokens=32, w=0.3)
    ids = tokenizer("Data engineer, Seattle.", add_special_tokens=False)["input_ids"]
    data = sample(tokenizer, ids + [end_of_turn_id(tokenizer)])
    data.non_tensor_batch["extra_info"][0]["split"] = "val"
    manager.loop.run_until_complete(manager.run_single(data))  # not set: nothing written
    assert not list(tmp_path.iterdir())
    monkeypatch.setenv(REWARD_LOG_ENV, str(tmp_path / "reward_log"))
    out = manager.loop.run_until_complete(manager.run_single(data))
    (path,) = (tmp_path / "reward_log").glob("*.jsonl")
    (record,) = [json.loads(line) for line in path.read_text().splitlines()]
    assert record == {"split": "val", "item_id": "job-1", "reward": out["reward_score"], "kl": out["reward_extra_info"]["kl"], "penalty": out["reward_extra_info"]["penalty"], "length_ratio": len(ids) / 400, "summary": "Data engineer, Seattle.", "summary_tokens": len(ids), "cut": False}


def test_batching_scorer_coalesces_concurrent_calls_and_matches_one_batch(tiny_model_dirs):
    import asyncio

    ranker = load_ranker(tiny_model_dirs["qwen3"])
    calls = []

    class CountingScorer(RankerScorer):
        def score(self, pairs):
            calls.append(len(pairs))
            return super().score(pairs)

    batcher = AsyncBatchingScorer(CountingScorer(ranker))
    summaries = ["data engineer", "spark", "seattle hybrid", ""]
    tasks = [ItemTask(tuple(QUERIES), tuple(P_RAW), 400)] * len(summaries)

    async def all_at_once():
        return await asyncio.gather(*(batcher.score([(q, s) for q in QUERIES]) for s in summaries))

    together = np.concatenate(asyncio.run(all_at_once()))
    assert calls == [8]  # four concurrent calls, one forward
    direct = score_summaries(RankerScorer(ranker), summaries, tasks, [2, 1, 3, 0], [False] * 4, RewardConfig())
    alone = ranker.score_pairs([(q, s) for s in summaries for q in QUERIES]).p_yes
    np.testing.assert_allclose(together, alone, atol=1e-6)
    assert len(direct) == 4 and all(math.isfinite(r.reward) for r in direct)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (dict(penalty="p1", penalty_params={"w": 0.3, "tau": 1.0, "m": 0}), "0 <= tau < 1"),
        (dict(penalty="p2", penalty_params={"w": -1}), "w must be >= 0"),
        (dict(penalty="p2", penalty_params={"w": 0.3, "tau": 0.2}), "bad parameters"),
        (dict(penalty="p9"), "unknown length penalty"),
        (dict(cut_penalty=0.5), "cut_penalty must be <= 0"),
    ],
)
def test_bad_reward_config_is_one_clear_error(config, message):
    with pytest.raises(ValueError, match=message):
        RewardConfig(**config)
