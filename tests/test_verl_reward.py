"""The reward adapter driven by verl's own reward manager, checked against the ranker
scored directly and the reward formula computed by hand."""

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

import rewards.verl_reward
from ranker.scoring import load_ranker
from ranker.tokenizer import qwen3_tokenizer_dir
from rewards.summary import ItemTask, RewardConfig, score_summaries
from rewards.scorer import AsyncBatchingScorer, RankerScorer

QUERIES = ["senior data engineer jobs in seattle", "remote spark roles"]
P_RAW = [0.7, 0.2]


def by_hand(ranker, summary, l_orig, l_sum, w):
    p_sum = ranker.score_pairs([(q, summary) for q in QUERIES]).p_yes
    kl = np.mean([p * math.log(p / r) + (1 - p) * math.log((1 - p) / (1 - r)) for p, r in zip(p_sum, P_RAW)])
    return -kl - w * (l_sum / l_orig) ** 2


def reward_manager(ranker_dir, max_response_tokens, w):
    from verl.experimental.reward_loop.reward_manager.naive import NaiveRewardManager
    from verl.trainer.ppo.reward import get_custom_reward_fn

    config = OmegaConf.create(
        {
            "reward": {
                "custom_reward_function": {
                    "path": str(Path(rewards.verl_reward.__file__)),
                    "name": "compute_score",
                    "reward_kwargs": {
                        "ranker_path": str(ranker_dir),
                        "actor_tokenizer_path": str(qwen3_tokenizer_dir()),
                        "max_response_tokens": max_response_tokens,
                        "penalty": "p2",
                        "penalty_params": {"w": w},
                    },
                }
            }
        }
    )
    from ranker.tokenizer import load_qwen3_tokenizer

    return NaiveRewardManager(config, load_qwen3_tokenizer(), get_custom_reward_fn(config)), load_qwen3_tokenizer()


def sample(tokenizer, summary, response_width=32):
    from verl import DataProto

    prompt = tokenizer("Summarize the job posting.", add_special_tokens=False)["input_ids"]
    response = tokenizer(summary, add_special_tokens=False)["input_ids"]
    padded = response + [tokenizer.pad_token_id] * (response_width - len(response))
    mask = [1] * (len(prompt) + len(response)) + [0] * (response_width - len(response))
    return DataProto.from_dict(
        tensors={"prompts": torch.tensor([prompt]), "responses": torch.tensor([padded]), "attention_mask": torch.tensor([mask])},
        non_tensors={
            "data_source": np.array(["synthetic-jobs"], dtype=object),
            "reward_model": np.array([{"ground_truth": P_RAW, "style": "ranker"}], dtype=object),
            "extra_info": np.array([{"item_id": "job-1", "queries": QUERIES, "l_orig": 400}], dtype=object),
        },
    ), len(response)


def test_verl_reward_manager_drives_the_adapter_end_to_end(tiny_model_dirs):
    manager, tokenizer = reward_manager(tiny_model_dirs["qwen3"], max_response_tokens=32, w=0.3)
    summary = "Senior Data Engineer, Seattle, hybrid; Spark, Kafka, Python."
    data, l_sum = sample(tokenizer, summary)
    out = manager.loop.run_until_complete(manager.run_single(data))
    ranker = load_ranker(tiny_model_dirs["qwen3"])
    assert out["reward_score"] == pytest.approx(by_hand(ranker, summary, 400, l_sum, 0.3), abs=1e-6)
    info = out["reward_extra_info"]
    assert info["summary_tokens"] == l_sum and info["cut"] == 0.0
    assert info["compression"] == pytest.approx(l_sum / 400)
    assert info["score"] == pytest.approx(-info["kl"] + info["penalty"])


def test_cut_and_empty_summaries_get_a_defined_reward(tiny_model_dirs):
    manager, tokenizer = reward_manager(tiny_model_dirs["qwen3"], max_response_tokens=4, w=0.3)
    long_summary = "Senior Data Engineer in Seattle working with Spark and Kafka every day"
    data, l_sum = sample(tokenizer, long_summary)
    out = manager.loop.run_until_complete(manager.run_single(data))
    assert out["reward_extra_info"]["cut"] == 1.0 and math.isfinite(out["reward_score"])
    empty, _ = sample(tokenizer, "")
    out = manager.loop.run_until_complete(manager.run_single(empty))
    ranker = load_ranker(tiny_model_dirs["qwen3"])
    assert out["reward_score"] == pytest.approx(by_hand(ranker, "", 400, 0, 0.3), abs=1e-6)


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
