"""Dynamic batching of scoring requests: concurrent requests wait in one queue, and a
single worker takes as many as fit a token budget (waiting at most `max_wait_s` for
company) and scores them in one engine call on a worker thread, so the event loop keeps
answering while the model runs.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable

import numpy as np

from serving.plan import TokenizedRequest

log = logging.getLogger(__name__)


class BatcherUnavailable(Exception):
    """The request was not queued (queue full, or shutting down); retrying later may work."""


def engine_tokens(request: TokenizedRequest) -> int:
    """Tokens the engine runs for a request: item-first pairs one row each; otherwise the
    query once and every item, each followed by a delimiter (the `serving.plan` layout)."""
    if request.item_first:
        return sum(len(request.query) + len(item) for item in request.items)
    return len(request.query) + 1 + sum(len(item) + 1 for item in request.items)


@dataclass
class _Waiting:
    request: TokenizedRequest
    tokens: int
    future: asyncio.Future


class DynamicBatcher:
    """`await submit(request)` -> the request's [n_items, n_labels] scores.

    `score_requests` is the engine call (thread-safe, blocking); `observe_batch(requests,
    tokens, seconds)` is told about each batch. A request waits in the queue until the worker takes
    it; at most `max_queue` may wait, beyond that `submit` raises `BatcherUnavailable`.
    A request bigger than the budget runs alone (the engine splits it)."""

    def __init__(self, score_requests: Callable[[list[TokenizedRequest]], list[np.ndarray]], max_batch_tokens: int, max_wait_s: float, max_queue: int, observe_batch: Callable[[int, int, float], None] | None = None):
        if max_queue < 1:
            raise ValueError(f"max_queue must be at least 1, got {max_queue}")
        self.score_requests = score_requests
        self.max_batch_tokens = max_batch_tokens
        self.max_wait_s = max_wait_s
        self.max_queue = max_queue
        self.observe_batch = observe_batch
        self._waiting: deque[_Waiting] = deque()
        self._arrived = asyncio.Event()
        self._closing = False
        self._worker: asyncio.Task | None = None
        self.in_flight = 0  # requests in the batch being scored

    @property
    def depth(self) -> int:
        """Requests waiting for the worker (not yet being scored)."""
        return sum(not w.future.done() for w in self._waiting)

    def start(self) -> None:
        self._worker = asyncio.get_running_loop().create_task(self._run(), name="score-batcher")

    async def submit(self, request: TokenizedRequest) -> np.ndarray:
        if self._closing:
            raise BatcherUnavailable("the server is shutting down")
        if self.depth >= self.max_queue:
            raise BatcherUnavailable(f"the queue is full ({self.max_queue} requests waiting)")
        waiting = _Waiting(request, engine_tokens(request), asyncio.get_running_loop().create_future())
        self._waiting.append(waiting)
        self._arrived.set()
        # A caller that gives up (timeout) cancels the future; the worker then skips it.
        return await waiting.future

    async def close(self) -> None:
        """Stop taking requests, score those already queued, then stop the worker."""
        self._closing = True
        self._arrived.set()
        if self._worker is not None:
            await self._worker

    async def _run(self) -> None:
        while True:
            batch = await self._next_batch()
            if batch is None:
                return
            await self._score(batch)

    async def _wait_for_arrival(self, timeout: float | None) -> bool:
        self._arrived.clear()
        try:
            await asyncio.wait_for(self._arrived.wait(), timeout)
            return True
        except asyncio.TimeoutError:  # TimeoutError from Python 3.11 on
            return False

    def _queued_tokens(self) -> int:
        return sum(w.tokens for w in self._waiting if not w.future.done())

    async def _next_batch(self) -> list[_Waiting] | None:
        """The next requests to score together, or None once closing with nothing left."""
        while not self.depth:
            if self._closing:
                return None
            await self._wait_for_arrival(None)
        deadline = time.monotonic() + self.max_wait_s
        # Waiting is pointless once the budget is filled or no further request may queue.
        while not self._closing and self._queued_tokens() < self.max_batch_tokens and self.depth < self.max_queue:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not await self._wait_for_arrival(remaining):
                break
        batch, tokens = [], 0
        while self._waiting:
            head = self._waiting[0]
            if not head.future.done():
                if batch and tokens + head.tokens > self.max_batch_tokens:
                    break
                batch.append(head)
                tokens += head.tokens
            self._waiting.popleft()
        return batch

    async def _score(self, batch: list[_Waiting]) -> None:
        tokens = sum(w.tokens for w in batch)
        started = time.perf_counter()
        self.in_flight = len(batch)
        try:
            results = await asyncio.to_thread(self.score_requests, [w.request for w in batch])
        except Exception as error:  # noqa: BLE001 - every request of the batch sees the failure
            log.exception("scoring a batch of %d requests (%d tokens) failed", len(batch), tokens)
            results = [error] * len(batch)
        finally:
            self.in_flight = 0
        seconds = time.perf_counter() - started
        log.debug("scored %d requests, %d items, %d tokens in %.1f ms; %d waiting", len(batch), sum(len(w.request.items) for w in batch), tokens, seconds * 1e3, self.depth)
        if self.observe_batch is not None:
            self.observe_batch(len(batch), tokens, seconds)
        for waiting, result in zip(batch, results):
            if waiting.future.done():  # its caller timed out meanwhile
                continue
            if isinstance(result, Exception):
                waiting.future.set_exception(result)
            else:
                waiting.future.set_result(result)
