"""Open-loop load at twice the server's capacity: it sheds with 503, stays healthy and
answers every accepted request correctly (serving.bench's load test, checked)."""

import asyncio
import time

import httpx
import pytest

from serving.bench import open_loop, random_requests
from serving.engine import load_engine


@pytest.mark.e2e  # a server under twice its capacity
def test_twice_capacity_sheds_with_503_and_answers_every_accepted_request_correctly(score_server, tiny_model_dirs):
    url = score_server(max_queue=4)
    reference = load_engine(tiny_model_dirs["qwen3"])
    requests = random_requests(24, query_tokens=12, items=8, item_min=20, item_max=60, vocab=150000, seed=3)
    expected = reference.score(requests)  # also warms the allocator
    # Capacity: the engine's throughput with every request in one batch, an upper bound
    # on what the server can sustain (it adds HTTP, tokenizing and batching on top).
    started = time.perf_counter()
    reference.score(requests)
    capacity_qps = len(requests) / (time.perf_counter() - started)

    result = asyncio.run(open_loop(url, requests, qps=2 * capacity_qps, duration=6.0, seed=0, expected=expected, tolerance=1e-5))

    assert set(result["statuses"]) <= {"200", "503"}, result
    assert result["statuses"].get("503", 0) > 0, f"no request was shed at 2x capacity: {result}"
    assert result["statuses"].get("200", 0) > 0, result
    assert result["wrong_scores"] == 0, result
    assert result["health_failures"] == 0, result
    after = httpx.post(f"{url}/v1/score", json={"query": requests[0].query, "items": requests[0].items, "label_token_ids": requests[0].label_ids}, timeout=30)
    assert after.status_code == 200
