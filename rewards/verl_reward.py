"""The function verl's reward loop calls, once per generated summary (async).

verl config (the training config fills it in):

    reward.custom_reward_function.path: <this file>
    reward.custom_reward_function.name: compute_score
    reward.custom_reward_function.reward_kwargs: {ranker_path, actor_tokenizer_path,
        max_response_tokens, penalty, penalty_params, cut_penalty, ranker_max_length,
        scorer_url}

`scorer_url` null scores with the ranker in each reward worker's process; a URL sends the
pairs to a `/v1/score` server serving the same ranker (`python -m serving.server`).

Each row of the training parquet (`python -m rlsum.data prepare`) carries the item's
queries and l_orig in `extra_info` and its p_raw in `reward_model.ground_truth`.
Concurrent calls share one batched ranker forward (or one request per query) through
`AsyncBatchingScorer`.
"""

from __future__ import annotations

from functools import lru_cache

from rewards.scorer import AsyncBatchingScorer, load_scorer
from rewards.summary import ItemTask, RewardConfig, rewards_from_p_sum, summary_pairs


@lru_cache(maxsize=4)
def _actor_tokenizer(path: str):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path)


_BATCHERS: dict[tuple, AsyncBatchingScorer] = {}


def _batcher(ranker_path: str, ranker_max_length: int | None, scorer_url: str | None) -> AsyncBatchingScorer:
    key = (ranker_path, ranker_max_length, scorer_url)
    if key not in _BATCHERS:
        _BATCHERS[key] = AsyncBatchingScorer(load_scorer(ranker_path, ranker_max_length, scorer_url))
    return _BATCHERS[key]


def item_task(ground_truth, extra_info: dict) -> ItemTask:
    return ItemTask(queries=tuple(extra_info["queries"]), p_raw=tuple(float(p) for p in ground_truth), l_orig=int(extra_info["l_orig"]))


async def compute_score(
    data_source: str,
    solution_str: str,
    ground_truth,
    extra_info: dict | None = None,
    *,
    ranker_path: str,
    actor_tokenizer_path: str,
    max_response_tokens: int,
    penalty: str = "p2",
    penalty_params: dict | None = None,
    cut_penalty: float = 0.0,
    ranker_max_length: int | None = None,
    scorer_url: str | None = None,
    **_verl_extras,
) -> dict:
    """Reward of one summary with its parts for logging. L_c counts the summary in the
    actor's tokens; a summary of max_response_tokens or more was cut by the length limit."""
    config = RewardConfig(penalty, dict(penalty_params or {}), cut_penalty)
    task = item_task(ground_truth, extra_info or {})
    l_sum = len(_actor_tokenizer(actor_tokenizer_path)(solution_str, add_special_tokens=False)["input_ids"])
    cut = l_sum >= max_response_tokens
    p_sum = await _batcher(ranker_path, ranker_max_length, scorer_url).score(summary_pairs([solution_str], [task]))
    parts = rewards_from_p_sum(p_sum, [task], [l_sum], [cut], config)[0]
    return {"score": parts.reward, "kl": parts.kl, "penalty": parts.penalty, "compression": parts.compression, "summary_tokens": l_sum, "cut": float(cut)}
