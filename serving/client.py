"""Async client of the `/v1/score` server: pooled connections, retries of what a retry can
fix (503 overloaded, connection failures) with capped exponential backoff and jitter until
a deadline, and a clear `ScoreError` with the server's message for everything else.

    async with ScoreClient("http://127.0.0.1:30000") as client:
        await client.wait_until_healthy(60)
        scores = await client.score(query, items, label_token_ids=[9454, 2753])
"""

from __future__ import annotations

import asyncio
import logging
import random
import time

import httpx

log = logging.getLogger(__name__)

# Connection failures (scoring is idempotent, so a retry is safe). A read timeout is not
# retried: the server may still be working on the request.
RETRIED_TRANSPORT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)


class ScoreError(RuntimeError):
    """A scoring request failed: the server's status, error type and message, or the
    connection failure that outlasted the retries."""

    def __init__(self, message: str, status: int | None = None, error_type: str | None = None):
        super().__init__(message)
        self.status = status
        self.error_type = error_type


def _server_error(response: httpx.Response) -> ScoreError:
    try:
        body = response.json()
        message, error_type = body["message"], body.get("type")
    except (ValueError, KeyError, TypeError):
        message, error_type = response.text[:500], None
    return ScoreError(f"POST /v1/score failed with {response.status_code}: {message}", response.status_code, error_type)


class ScoreClient:
    """`retries`: further attempts after the first; `deadline_s`: time budget of one
    `score` call, retries included; `max_retry_wait_s`: cap on one wait (Retry-After or
    backoff)."""

    def __init__(self, base_url: str, timeout: float = 60.0, max_connections: int = 32, retries: int = 8, deadline_s: float = 300.0, backoff_s: float = 0.1, max_retry_wait_s: float = 5.0):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.deadline_s = deadline_s
        self.backoff_s = backoff_s
        self.max_retry_wait_s = max_retry_wait_s
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout, limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections))

    async def __aenter__(self) -> "ScoreClient":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def score(self, query: str | list[int], items: str | list[str] | list[list[int]], label_token_ids: list[int], apply_softmax: bool = False, item_first: bool = False) -> list[list[float]]:
        """Per item, the probability of each label token (see the server's /v1/score)."""
        body = {"query": query, "items": items, "label_token_ids": label_token_ids, "apply_softmax": apply_softmax, "item_first": item_first}
        deadline = time.monotonic() + self.deadline_s
        attempt = 0
        while True:
            remaining = deadline - time.monotonic()
            try:
                response = await self._http.post("/v1/score", json=body, timeout=max(min(self.timeout, remaining), 0.001))
            except RETRIED_TRANSPORT_ERRORS as error:
                failure, retry_after = ScoreError(f"POST {self.base_url}/v1/score: {type(error).__name__}: {error}"), None
            except httpx.TimeoutException as error:
                raise ScoreError(f"POST {self.base_url}/v1/score: no answer within {min(self.timeout, remaining):.1f} s ({type(error).__name__})") from error
            else:
                if response.status_code == 200:
                    return response.json()["scores"]
                failure = _server_error(response)
                if response.status_code != 503:
                    raise failure
                retry_after = _seconds(response.headers.get("retry-after"))
            wait = self._wait_before_retry(attempt, retry_after)
            if attempt >= self.retries or time.monotonic() + wait > deadline:
                raise ScoreError(f"{failure} (gave up after {attempt + 1} attempts, {self.deadline_s:g} s deadline)", failure.status, failure.error_type)
            attempt += 1
            log.info("%s; retry %d of %d in %.2f s", failure, attempt, self.retries, wait)
            await asyncio.sleep(wait)

    def _wait_before_retry(self, attempt: int, retry_after: float | None) -> float:
        """The server's Retry-After when it sent one, else exponential backoff with full
        jitter (concurrent clients do not retry in lockstep); capped either way."""
        if retry_after is not None:
            return min(retry_after, self.max_retry_wait_s)
        return random.uniform(0, min(self.backoff_s * 2**attempt, self.max_retry_wait_s))

    async def health(self, timeout: float = 1.0) -> str:
        """"ok" when GET /health answers 200, else what went wrong."""
        try:
            response = await self._http.get("/health", timeout=timeout)
        except httpx.TransportError as error:
            return f"{type(error).__name__}: {error}"
        return "ok" if response.status_code == 200 else f"status {response.status_code}"

    async def wait_until_healthy(self, timeout: float = 60.0, poll_s: float = 0.2) -> None:
        """Return once GET /health answers 200; TimeoutError after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            last = await self.health(timeout=poll_s * 5)
            if last == "ok":
                return
            if time.monotonic() + poll_s > deadline:
                raise TimeoutError(f"{self.base_url} not healthy within {timeout:g} s ({last})")
            await asyncio.sleep(poll_s)


def _seconds(retry_after: str | None) -> float | None:
    """Retry-After in seconds (the HTTP-date form is not used by our server)."""
    try:
        return max(float(retry_after), 0.0) if retry_after is not None else None
    except ValueError:
        return None
