"""Scorers: where the reward gets the frozen ranker's P(Yes) for (query, text) pairs.

A scorer has one method, `score(pairs) -> np.ndarray` of P(Yes). `RankerScorer` runs the
ranker in this process; `HttpScorer` asks a `/v1/score` server (`python -m serving.server`)
that serves it; `load_scorer` picks one. `AsyncBatchingScorer` sits in front of either:
verl calls the reward once per sample, concurrently, and the batcher turns those calls into
one batched forward (or, over HTTP, one multi-item request per query).
"""

from __future__ import annotations

import asyncio
import threading
from functools import lru_cache
from typing import Protocol

import numpy as np

from ranker.template import PromptTemplate


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
def load_ranker_scorer(ranker_path: str, max_length: int | None = None, batch_size: int = 64, device: str | None = None, dtype: str = "float32") -> RankerScorer:
    """One scorer per ranker, device and dtype in a process, however many reward calls ask
    for it. `device`: cpu, cuda, cuda:N, or auto / None (cuda when visible)."""
    from ranker.scoring import load_ranker

    return RankerScorer(load_ranker(ranker_path, device=device, dtype=dtype, max_length=max_length), batch_size=batch_size)


class HttpScorer:
    """The ranker behind a `/v1/score` server. Pairs are grouped by query, so all items of
    a query share one multi-item request (the server computes the query once); queries go
    out concurrently. Requests carry the template's query part and item parts as text,
    which the server tokenizes exactly as `RankerScorer` does, and P(Yes) is the positive
    label renormalised over the labels (`apply_softmax`). Unlike the in-process ranker,
    items are not cut to a max_length: a pair over the server's limit is an error.

    The async client runs on an event loop of its own in a background thread, so the sync
    `score` works from any thread (`AsyncBatchingScorer` calls it from an executor) and
    the connection pool outlives each call."""

    def __init__(self, url: str, template: PromptTemplate, label_token_ids: list[int], **client_options):
        from serving.client import ScoreClient

        self.template = template
        self.label_token_ids = list(label_token_ids)
        self._loop = asyncio.new_event_loop()
        threading.Thread(target=self._loop.run_forever, name="http-scorer", daemon=True).start()
        self._client = ScoreClient(url, **client_options)

    def score(self, pairs: list[tuple[str, str]]) -> np.ndarray:
        if not pairs:
            return np.zeros(0)
        return asyncio.run_coroutine_threadsafe(self._score(pairs), self._loop).result()

    async def _score(self, pairs: list[tuple[str, str]]) -> np.ndarray:
        rows_by_query: dict[str, list[int]] = {}
        for row, (query, _) in enumerate(pairs):
            rows_by_query.setdefault(query, []).append(row)
        requests = (
            self._client.score(self.template.format_query(query), [self.template.format_item(pairs[row][1]) for row in rows], self.label_token_ids, apply_softmax=True, item_first=self.template.item_first)
            for query, rows in rows_by_query.items()
        )
        p_yes = np.zeros(len(pairs))
        for rows, scores in zip(rows_by_query.values(), await asyncio.gather(*requests)):
            p_yes[rows] = [label_probs[0] for label_probs in scores]
        return p_yes

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self._client.aclose(), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)


@lru_cache(maxsize=4)
def load_http_scorer(scorer_url: str, ranker_path: str) -> HttpScorer:
    """An HttpScorer for the server at `scorer_url` serving the ranker at `ranker_path`,
    whose saved template and label words (looked up in its tokenizer) it uses."""
    from transformers import AutoTokenizer

    from ranker.scoring import lookup_label_ids

    template = PromptTemplate.load(ranker_path)
    return HttpScorer(scorer_url, template, lookup_label_ids(AutoTokenizer.from_pretrained(ranker_path), template.labels))


def load_scorer(ranker_path: str, max_length: int | None = None, scorer_url: str | None = None, device: str | None = None, dtype: str = "float32") -> Scorer:
    """The ranker at `ranker_path`: in this process on `device` in `dtype`, or through the
    `/v1/score` server at `scorer_url` (which must serve that ranker; device and dtype are
    then the server's)."""
    if scorer_url:
        return load_http_scorer(scorer_url, str(ranker_path))
    return load_ranker_scorer(ranker_path, max_length, device=device, dtype=dtype)


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
