"""What verl's reward loop runs for each generated summary: our reward manager
(`SummaryRewardManager`) and the reward function it calls (`compute_score`, async).

verl's `NaiveRewardManager` hands the reward function only the decoded text, so the
summary's length would have to be re-counted from text and a cut generation guessed
from it. `SummaryRewardManager` reads the response token ids instead and applies the
rule the embedded engine applies (`rewards.length.decode_summary`: L_c = tokens before
the end-of-turn token, cut = no end-of-turn token within the response limit, the text of
those tokens), then calls `compute_score` with that text, length and cut. Both engines
therefore give the same reward to the same sample.

The `reward:` section of verl's config (`verl_reward_section` builds it whole)::

    reward.reward_manager.source: importlib
    reward.reward_manager.name: SummaryRewardManager
    reward.reward_manager.module.path: pkg://rewards.verl_reward
    reward.custom_reward_function.path: pkg://rewards.verl_reward
    reward.custom_reward_function.name: compute_score
    reward.custom_reward_function.reward_kwargs: {ranker_path, max_response_tokens, penalty, penalty_params, cut_penalty, ranker_max_length,
        scorer_url, ranker_device, ranker_dtype}

Module paths (`pkg://`), not files: every reward worker on every node imports the
installed package. `scorer_url` null scores with the ranker in each reward worker's
process, on `ranker_device` ("cpu", "cuda", "cuda:N" or "auto" = cuda when the worker
sees CUDA) in `ranker_dtype` ("float32" or "bfloat16"); a URL sends the pairs to a
`/v1/score` server serving the same ranker (`python -m serving.server`), and device and
dtype are then the server's.

Each row of the training parquet carries the item's queries and l_orig in `extra_info`
and its p_raw in `reward_model.ground_truth`. Concurrent calls share one batched ranker
forward (or one request per query) through `AsyncBatchingScorer`.

With `RLSUM_REWARD_LOG_DIR` set (the verl engine sets it to `RUN_DIR/reward_log` in every
worker's env), each scored summary is also appended as one JSON line to
`<dir>/<host>-<pid>.jsonl`: {split (the row's `extra_info.split`), item_id, reward, kl,
penalty, length_ratio, summary, summary_tokens, cut}, which `rlsum.verl_run_dir` turns into
the run's metrics.jsonl / validation.jsonl rows.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import socket
from pathlib import Path

from verl.experimental.reward_loop.reward_manager.base import RewardManagerBase

from rewards.length import decode_summary
from rewards.scorer import AsyncBatchingScorer, load_scorer
from jobdata.rl_rows import item_task
from rewards.summary import RewardConfig, rewards_from_p_sum, summary_pairs

__all__ = ["REWARD_LOG_ENV", "REWARD_MODULE", "RANKER_DEVICES", "RANKER_DTYPES", "SummaryRewardManager", "compute_score", "log_reward", "verl_reward_section"]

log = logging.getLogger(__name__)

REWARD_MODULE = "pkg://rewards.verl_reward"
REWARD_LOG_ENV = "RLSUM_REWARD_LOG_DIR"  # = rlsum.verl_run_dir.REWARD_LOG_ENV (rewards does not import rlsum)
RANKER_DEVICES = ("cpu", "cuda", "auto")  # and "cuda:N"
RANKER_DTYPES = ("float32", "bfloat16")


def check_ranker_placement(ranker_device: str, ranker_dtype: str) -> None:
    if ranker_device not in RANKER_DEVICES and not str(ranker_device).startswith("cuda:"):
        raise ValueError(f"ranker_device must be one of {', '.join(RANKER_DEVICES)} or cuda:N, got {ranker_device!r}")
    if ranker_dtype not in RANKER_DTYPES:
        raise ValueError(f"ranker_dtype must be one of {', '.join(RANKER_DTYPES)}, got {ranker_dtype!r}")


def verl_reward_section(
    reward: RewardConfig,
    ranker_path: str | Path,
    max_response_tokens: int,
    ranker_max_length: int | None = None,
    scorer_url: str | None = None,
    ranker_device: str = "auto",
    ranker_dtype: str = "float32",
) -> dict:
    """verl's whole `reward:` override for our reward: `SummaryRewardManager` loaded by
    importlib and `compute_score` with its keyword arguments. Merge it into the composed
    config with `open_dict(cfg)` then `cfg.reward.merge_with(section)` (or
    `OmegaConf.merge`); verl's other `reward` keys (num_workers, reward_model,
    sandbox_fusion) keep their values. `max_response_tokens` is `data.max_response_length`."""
    check_ranker_placement(ranker_device, ranker_dtype)
    if max_response_tokens < 1:
        raise ValueError(f"max_response_tokens must be >= 1, got {max_response_tokens}")
    return {
        "reward_manager": {"source": "importlib", "name": SummaryRewardManager.__name__, "module": {"path": REWARD_MODULE}},
        "custom_reward_function": {
            "path": REWARD_MODULE,
            "name": compute_score.__name__,
            "reward_kwargs": {
                "ranker_path": str(ranker_path),
                "max_response_tokens": int(max_response_tokens),
                "penalty": reward.penalty,
                "penalty_params": dict(reward.penalty_params),
                "cut_penalty": float(reward.cut_penalty),
                "ranker_max_length": ranker_max_length,
                "scorer_url": scorer_url,
                "ranker_device": ranker_device,
                "ranker_dtype": ranker_dtype,
            },
        },
    }


class SummaryRewardManager(RewardManagerBase):
    """verl's reward manager for summaries (verl constructs one per `RewardLoopWorker`):
    the response's token ids give the summary, L_c and the cut by
    `rewards.length.decode_summary` with the actor's tokenizer, and `compute_score`
    (verl's `custom_reward_function`, with its `reward_kwargs`) gets all three."""

    def __init__(self, config, tokenizer, compute_score, reward_router_address=None, reward_model_tokenizer=None, **_unused):
        super().__init__(config, tokenizer, compute_score)
        if compute_score is None:
            raise ValueError(f"{type(self).__name__} needs reward.custom_reward_function = {REWARD_MODULE} compute_score")
        reward_kwargs = config.reward.custom_reward_function.get("reward_kwargs") or {}
        self.max_response_tokens = int(reward_kwargs.get("max_response_tokens") or config.actor_rollout_ref.rollout.response_length)
        self.is_async = inspect.iscoroutinefunction(compute_score)

    async def run_single(self, data) -> dict:
        item = data[-1:][0]  # multi-sequence outputs: the last sequence, as verl's managers do
        responses = item.batch["responses"]
        valid = int(item.batch["attention_mask"][-responses.shape[-1] :].sum())
        generated = responses[:valid].tolist()
        summary, l_sum, cut = await self.loop.run_in_executor(None, lambda: decode_summary(self.tokenizer, generated, self.max_response_tokens))
        kwargs = dict(
            data_source=item.non_tensor_batch["data_source"],
            solution_str=summary,
            ground_truth=item.non_tensor_batch["reward_model"]["ground_truth"],
            extra_info=item.non_tensor_batch.get("extra_info", {}),
            l_sum=l_sum,
            cut=cut,
        )
        if self.is_async:
            result = await self.compute_score(**kwargs)
        else:
            result = await self.loop.run_in_executor(None, lambda: self.compute_score(**kwargs))
        return {"reward_score": result["score"], "reward_extra_info": dict(result)}


_BATCHERS: dict[tuple, AsyncBatchingScorer] = {}


def _batcher(ranker_path: str, ranker_max_length: int | None, scorer_url: str | None, ranker_device: str, ranker_dtype: str) -> AsyncBatchingScorer:
    key = (ranker_path, ranker_max_length, scorer_url, ranker_device, ranker_dtype)
    if key not in _BATCHERS:
        _BATCHERS[key] = AsyncBatchingScorer(load_scorer(ranker_path, ranker_max_length, scorer_url, device=ranker_device, dtype=ranker_dtype))
    return _BATCHERS[key]


def log_reward(record: dict) -> None:
    """Append one JSON line to this process's file under $RLSUM_REWARD_LOG_DIR (nothing
    when unset). One `write` of a whole line to an O_APPEND file: a reader sees complete
    lines, or a last one still being written, never two workers' lines interleaved."""
    directory = os.environ.get(REWARD_LOG_ENV)
    if not directory:
        return
    Path(directory).mkdir(parents=True, exist_ok=True)
    fd = os.open(Path(directory) / f"{socket.gethostname()}-{os.getpid()}.jsonl", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, (json.dumps(record) + "\n").encode())
    finally:
        os.close(fd)


async def compute_score(
    data_source: str,
    solution_str: str,
    ground_truth,
    extra_info: dict | None = None,
    *,
    ranker_path: str,
    max_response_tokens: int,
    penalty: str = "p2",
    penalty_params: dict | None = None,
    cut_penalty: float = 0.0,
    ranker_max_length: int | None = None,
    scorer_url: str | None = None,
    ranker_device: str = "auto",
    ranker_dtype: str = "float32",
    l_sum: int,
    cut: bool,
    **_verl_extras,
) -> dict:
    """Reward of one summary with its parts for logging. `l_sum` (L_c in actor tokens)
    and `cut` come from the generated token ids (`SummaryRewardManager`, by
    `rewards.length.decode_summary`), never from re-tokenized text."""
    check_ranker_placement(ranker_device, ranker_dtype)
    config = RewardConfig(penalty, dict(penalty_params or {}), cut_penalty)
    task = item_task(ground_truth, extra_info or {})
    l_sum, cut = int(l_sum), bool(cut)
    p_sum = await _batcher(ranker_path, ranker_max_length, scorer_url, ranker_device, ranker_dtype).score(summary_pairs([solution_str], [task]))
    parts = rewards_from_p_sum(p_sum, [task], [l_sum], [cut], config)[0]
    info = extra_info or {}
    log_reward({"split": info.get("split"), "item_id": info.get("item_id"), "reward": parts.reward, "kl": parts.kl, "penalty": parts.penalty, "length_ratio": parts.length_ratio, "summary": solution_str, "summary_tokens": l_sum, "cut": cut})
    return {"score": parts.reward, "kl": parts.kl, "penalty": parts.penalty, "length_ratio": parts.length_ratio, "summary_tokens": l_sum, "cut": float(cut)}
