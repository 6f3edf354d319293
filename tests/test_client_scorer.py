"""The async /v1/score client (retries, deadlines, errors) and the reward's HttpScorer,
against real servers on 127.0.0.1: HTTP scores equal the in-process ranker's."""

import asyncio
import logging
import math
import socket
import time

import numpy as np
import pytest

import rewards.verl_reward
from ranker.scoring import load_ranker
from rewards.scorer import HttpScorer, RankerScorer, load_scorer
from serving.client import ScoreClient, ScoreError

QUERIES = ["senior data engineer jobs in seattle", "remote spark roles", "python developer austin"]
SUMMARIES = ["Senior Data Engineer, Seattle, hybrid; Spark, Kafka, Python.", "Remote backend role, Go and Postgres.", "", "Junior analyst in Austin: SQL, dashboards."]
PAIRS = [(query, summary) for summary in SUMMARIES for query in QUERIES]
DOCS_ITEMS = ["Sacramento", "San Jose", "San Francisco"]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow  # over 5 s; the fast loop skips it
@pytest.mark.parametrize("model", ["qwen3", "item-first"])
def test_http_scorer_matches_the_in_process_ranker(tiny_model_dirs, score_server, metric, model):
    url = score_server(model)
    scorer = load_scorer(str(tiny_model_dirs[model]), scorer_url=url)
    assert isinstance(scorer, HttpScorer) and scorer.template.item_first == (model == "item-first")
    requests = metric(url, "score_request_duration_seconds_count")
    over_http = scorer.score(PAIRS)
    assert metric(url, "score_request_duration_seconds_count") == requests + len(QUERIES)  # one request per query
    in_process = RankerScorer(load_ranker(tiny_model_dirs[model])).score(PAIRS)
    assert np.abs(over_http - in_process).max() <= 1e-5
    assert in_process.std() > 0.01  # the tiny model is not degenerate: the check bites
    assert scorer.score([]).shape == (0,)


def test_verl_reward_over_http_equals_the_in_process_reward(tiny_model_dirs, score_server):
    kwargs = dict(ranker_path=str(tiny_model_dirs["qwen3"]), max_response_tokens=64, penalty="p2", penalty_params={"w": 0.3}, l_sum=12, cut=False)
    extra_info = {"item_id": "job-1", "queries": QUERIES, "l_orig": 400}

    def reward(**more):
        return asyncio.run(rewards.verl_reward.compute_score("synthetic-jobs", SUMMARIES[0], [0.7, 0.2, 0.4], extra_info, **kwargs, **more))

    over_http, in_process = reward(scorer_url=score_server()), reward()
    assert over_http["score"] == pytest.approx(in_process["score"], abs=1e-5)
    assert over_http["kl"] == pytest.approx(in_process["kl"], abs=1e-5) and math.isfinite(over_http["score"])


def test_client_retries_a_503_and_succeeds(saturated_server, caplog):
    caplog.set_level(logging.INFO, logger="serving.client")

    async def score():
        # Short waits, and enough of them to outlast the busy engine on a slow machine.
        async with ScoreClient(saturated_server, retries=200, max_retry_wait_s=0.1, deadline_s=60) as client:
            return await client.score("capital of California?", DOCS_ITEMS, [9454, 2753], apply_softmax=True)

    scores = asyncio.run(score())
    assert "failed with 503" in caplog.text and "retry 1 of" in caplog.text
    assert len(scores) == 3 and all(abs(sum(row) - 1) < 1e-6 for row in scores)


def test_client_raises_the_servers_message_on_a_4xx_without_retrying(score_server, caplog):
    caplog.set_level(logging.INFO, logger="serving.client")

    async def score():
        async with ScoreClient(score_server()) as client:
            await client.score("q", DOCS_ITEMS, [9454, 10**6])

    with pytest.raises(ScoreError, match=r"failed with 400: label_token_ids\[1\] = 1000000 is outside the vocabulary") as error:
        asyncio.run(score())
    assert error.value.status == 400 and error.value.error_type == "invalid_request"
    assert "retry" not in caplog.text


def test_client_retries_connection_errors_until_its_deadline():
    async def score():
        async with ScoreClient(f"http://127.0.0.1:{closed_port()}", deadline_s=0.5, backoff_s=0.02, max_retry_wait_s=0.1) as client:
            await client.score("q", ["a"], [1])

    started = time.monotonic()
    with pytest.raises(ScoreError, match=r"ConnectError.*gave up after (\d+) attempts, 0.5 s deadline") as error:
        asyncio.run(score())
    assert time.monotonic() - started < 2
    assert int(error.value.args[0].rsplit("gave up after ", 1)[1].split()[0]) > 2


def test_wait_until_healthy(score_server):
    async def wait(url, timeout):
        async with ScoreClient(url) as client:
            await client.wait_until_healthy(timeout, poll_s=0.05)

    asyncio.run(wait(score_server(), 5))
    with pytest.raises(TimeoutError, match="not healthy within 0.3 s"):
        asyncio.run(wait(f"http://127.0.0.1:{closed_port()}", 0.3))


def test_training_config_passes_the_scorer_url_to_the_reward(tmp_path):
    from rlsum.train import check_config, compose_config
    from rlsum.verl_engine import verl_config

    cfg = compose_config(["+algo=gspo", "ranker.scorer_url=http://10.0.0.7:30000"])
    check_config(cfg)
    kwargs = verl_config(cfg, tmp_path, tmp_path / "prepared", tmp_path / "ranker", tmp_path / "actor").reward.custom_reward_function.reward_kwargs
    assert kwargs.scorer_url == "http://10.0.0.7:30000"
    assert compose_config(["+algo=gspo"]).ranker.scorer_url is None  # default: in-process ranker
    with pytest.raises(ValueError, match="ranker.scorer_url=10.0.0.7:30000: not an http"):
        check_config(compose_config(["+algo=gspo", "ranker.scorer_url=10.0.0.7:30000"]))
