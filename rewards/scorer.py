"""Scorers: where the reward gets the frozen ranker's P(Yes) for (query, text) pairs.

A scorer has one method, `score(pairs) -> np.ndarray` of P(Yes). `RankerScorer` runs the
ranker in this process; the serving issue adds an HTTP client with the same method.
`AsyncBatchingScorer` sits in front of either: verl calls the reward once per sample,
concurrently, and the batcher turns those calls into one batched forward.
"""

from __future__ import annotations

import asyncio
from functools import lru_cache
from typing import Protocol

import numpy as np


class Scorer(Protocol):
    def score(self, pairs: list[tuple[str, str]]) -> np.ndarray: ...


class RankerScorer:
    """The ranker (`ranker.scoring.Ranker`) in this process."""

    def __init__(self, ranker, batch_size: int = 64):
        self.ranker = ranker
        self.batch_size = batch_size

    def score(self, pairs: list[tuple[str, str]]) -> np.ndarray:
        if not pairs:
            return np.zeros(0)
        return self.ranker.score_pairs(pairs, batch_size=self.batch_size).p_yes


@lru_cache(maxsize=4)
def load_ranker_scorer(ranker_path: str, max_length: int | None = None, batch_size: int = 64, device: str | None = None) -> RankerScorer:
    """One scorer per ranker and process, however many reward calls ask for it."""
    from ranker.scoring import load_ranker

    return RankerScorer(load_ranker(ranker_path, device=device, max_length=max_length), batch_size=batch_size)


class AsyncBatchingScorer:
    """Coalesces concurrent `await score(pairs)` calls: the first call of a round waits
    `max_wait_s` for others, then all pending pairs are scored in one call of the wrapped
    scorer, in a worker thread so the event loop stays free."""

    def __init__(self, scorer: Scorer, max_wait_s: float = 0.005):
        self.scorer = scorer
        self.max_wait_s = max_wait_s
        self._pending: list[tuple[list[tuple[str, str]], asyncio.Future]] = []
        self._lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None  # a Lock serves one loop

    async def score(self, pairs: list[tuple[str, str]]) -> np.ndarray:
        future = asyncio.get_running_loop().create_future()
        self._pending.append((pairs, future))
        if len(self._pending) == 1:
            asyncio.get_running_loop().create_task(self._flush_after_wait())
        return await future

    async def _flush_after_wait(self) -> None:
        await asyncio.sleep(self.max_wait_s)
        if self._lock_loop is not asyncio.get_running_loop():
            self._lock, self._lock_loop = asyncio.Lock(), asyncio.get_running_loop()
        async with self._lock:  # one batched forward at a time
            batch, self._pending = self._pending, []
            if not batch:
                return
            flat = [pair for pairs, _ in batch for pair in pairs]
            try:
                scores = await asyncio.get_running_loop().run_in_executor(None, self.scorer.score, flat)
            except Exception as error:  # every waiting caller sees the failure
                for _, future in batch:
                    future.set_exception(error)
                return
            start = 0
            for pairs, future in batch:
                future.set_result(np.asarray(scores[start : start + len(pairs)]))
                start += len(pairs)
