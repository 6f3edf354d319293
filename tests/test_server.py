"""The /v1/score server over real HTTP (uvicorn on 127.0.0.1, tiny random models): the
SGLang request and response shapes, scores equal to per-pair scoring with the ranker,
every DESIGN.md error case, overload and shutdown behaviour, metrics, and a schema fuzz."""

import random
import signal
import subprocess
import sys
import threading
import time

import httpx
import numpy as np
import pytest
import torch

from ranker.scoring import label_logprobs, left_pad, load_ranker

# The request of SGLang's /v1/score documentation ("Yes" = 9454, "No" = 2753 in Qwen3).
DOCS_REQUEST = {
    "query": "What is the capital of California? Answer Yes or No for each of the following options:",
    "items": ["Sacramento", "San Jose", "San Francisco"],
    "label_token_ids": [9454, 2753],
}
# Limits small enough to exceed in a test.
SERVER = dict(max_body_bytes=1 << 20, max_request_tokens=20_000)
WORDS = "senior data engineer seattle remote spark python kafka salary benefits location hybrid austin".split()


@pytest.fixture(scope="module")
def url(score_server):
    return score_server(**SERVER)


@pytest.fixture(scope="module")
def ranker(tiny_model_dirs):
    return load_ranker(tiny_model_dirs["qwen3"])


def post(url, body):
    return httpx.post(f"{url}/v1/score", json=body, timeout=60)


def tokens(ranker, text):
    return ranker.tokenizer(text, add_special_tokens=False)["input_ids"]


def per_pair(ranker, query, items, label_ids, apply_softmax, item_first):
    """Each pair scored alone by ranker.scoring: tokens(query) + tokens(item) (texts are
    tokenized one by one), label probabilities at the last token."""
    if isinstance(query, str):
        query, items = tokens(ranker, query), [tokens(ranker, item) for item in items]
    rows = [item + query if item_first else query + item for item in items]
    input_ids, attention_mask = left_pad(rows, ranker.pad_id)
    with torch.no_grad():
        logprobs = label_logprobs(ranker.model, input_ids, attention_mask, torch.tensor(label_ids)).double()
    return (torch.softmax(logprobs, dim=-1) if apply_softmax else logprobs.exp()).numpy()


def varied_items(n, seed):
    rng = random.Random(seed)
    return [" ".join(rng.choices(WORDS, k=rng.randint(1, 60))) for _ in range(n)]


@pytest.mark.parametrize("apply_softmax", [False, True])
@pytest.mark.parametrize("item_first", [False, True])
@pytest.mark.parametrize("items", [DOCS_REQUEST["items"], varied_items(7, seed=3)], ids=["docs", "varied"])
def test_scores_equal_per_pair_scoring(url, ranker, items, apply_softmax, item_first):
    body = {**DOCS_REQUEST, "items": items, "apply_softmax": apply_softmax, "item_first": item_first}
    response = post(url, body)
    assert response.status_code == 200, response.text
    data = response.json()
    assert set(data) == {"scores", "model", "usage", "object"} and data["object"] == "scoring"
    pair_tokens = sum(len(tokens(ranker, body["query"])) + len(tokens(ranker, item)) for item in items)
    assert data["usage"] == {"prompt_tokens": pair_tokens, "completion_tokens": 0, "total_tokens": pair_tokens}
    scores = np.array(data["scores"])
    expected = per_pair(ranker, body["query"], items, body["label_token_ids"], apply_softmax, item_first)
    assert scores.shape == (len(items), 2)
    assert np.abs(scores - expected).max() <= 1e-5
    # Full-vocabulary probabilities of a random model are tiny: compare them in log space too.
    np.testing.assert_allclose(np.log(scores), np.log(expected), atol=1e-4)
    if apply_softmax:
        np.testing.assert_allclose(scores.sum(axis=1), 1.0, atol=1e-6)
        assert scores[:, 0].std() > 0.01  # the tiny model is not degenerate: the check bites


def test_token_id_inputs_score_like_text(url, ranker):
    text = post(url, {**DOCS_REQUEST, "apply_softmax": True}).json()
    ids = {"query": tokens(ranker, DOCS_REQUEST["query"]), "items": [tokens(ranker, item) for item in DOCS_REQUEST["items"]], "label_token_ids": [9454, 2753], "apply_softmax": True}
    by_ids = post(url, ids).json()
    np.testing.assert_allclose(by_ids["scores"], text["scores"], atol=1e-6)
    assert by_ids["usage"] == text["usage"]


def test_single_string_item_empty_items_and_empty_query(url, ranker):
    listed = post(url, {**DOCS_REQUEST, "items": ["Sacramento"]}).json()
    single = post(url, {**DOCS_REQUEST, "items": "Sacramento"}).json()
    np.testing.assert_allclose(single["scores"], listed["scores"], atol=1e-6)
    empty = post(url, {**DOCS_REQUEST, "items": []})
    assert empty.status_code == 200 and empty.json()["scores"] == [] and empty.json()["usage"]["prompt_tokens"] == 0
    items_alone = post(url, {**DOCS_REQUEST, "query": "", "apply_softmax": True}).json()["scores"]
    assert np.abs(np.array(items_alone) - per_pair(ranker, "", DOCS_REQUEST["items"], [9454, 2753], True, False)).max() <= 1e-5


LONG_ITEM = [1000] * 4090  # with the query over the tiny model's 4,096 positions
BAD_REQUESTS = {
    "missing label_token_ids": ({"query": "q", "items": ["a"]}, "label_token_ids is required"),
    "empty label_token_ids": ({"query": "q", "items": ["a"], "label_token_ids": []}, "label_token_ids: List should have at least 1 item"),
    "null items": ({"query": "q", "items": None, "label_token_ids": [1]}, "items must not be null"),
    "missing items": ({"query": "q", "label_token_ids": [1]}, "items is required"),
    "label id at vocab size": ({"query": "q", "items": ["a"], "label_token_ids": [9454, 151936]}, "label_token_ids[1] = 151936 is outside the vocabulary (0..151935)"),
    "negative label id": ({"query": "q", "items": ["a"], "label_token_ids": [-1]}, "label_token_ids[0] = -1 is outside the vocabulary"),
    "query token id outside vocabulary": ({"query": [5, 10**9], "items": [[1]], "label_token_ids": [1]}, "query[1] = 1000000000 is outside the vocabulary"),
    "item token id outside vocabulary": ({"query": [5], "items": [[1], [-3]], "label_token_ids": [1]}, "items[1][0] = -3 is outside the vocabulary"),
    "text query, token items": ({"query": "q", "items": [[1, 2]], "label_token_ids": [1]}, "mixed inputs: query is text but items are token ids"),
    "token query, text items": ({"query": [1, 2], "items": ["a"], "label_token_ids": [1]}, "mixed inputs: query is token ids but items are text"),
    "text and token items": ({"query": "q", "items": ["a", [1]], "label_token_ids": [1]}, "items mixes texts and token-id lists"),
    "flat token list": ({"query": [1], "items": [1, 2], "label_token_ids": [1]}, "items is a flat list of integers"),
    "empty text item": ({"query": "q", "items": ["a", ""], "label_token_ids": [1]}, "items[1] is empty"),
    "empty token item": ({"query": [1], "items": [[]], "label_token_ids": [1]}, "items[0] is empty"),
    "pair over the model's positions": ({"query": [1] * 10, "items": [[1], LONG_ITEM], "label_token_ids": [1]}, "items[1]: query (10 tokens) + item (4090 tokens) = 4100 tokens, over the limit of 4096 tokens per pair"),
    "request over max_request_tokens": ({"query": [1] * 10, "items": [[1] * 4000] * 6, "label_token_ids": [1]}, "request has 24060 prompt tokens (query + item, summed over 6 items), over the limit of 20000"),
    "float token id": ({"query": [1.5], "items": [[1]], "label_token_ids": [1]}, "query[0] must be a token id (an integer), got 1.5"),
    "boolean token id": ({"query": "q", "items": ["a"], "label_token_ids": [True]}, "label_token_ids[0]: Input should be a valid integer"),
    "query of wrong type": ({"query": {"text": "q"}, "items": ["a"], "label_token_ids": [1]}, "query must be a string or a list of token ids"),
    "string apply_softmax": ({"query": "q", "items": ["a"], "label_token_ids": [1], "apply_softmax": "yes"}, "apply_softmax: Input should be a valid boolean"),
    "unknown field": ({"query": "q", "items": ["a"], "label_token_ids": [1], "label_ids": [1]}, "unknown field 'label_ids'"),
    "body not an object": ([1, 2], "request body must be a JSON object"),
}


@pytest.mark.parametrize("case", list(BAD_REQUESTS))
def test_bad_request_is_400_naming_the_problem(url, metric, case):
    body, message = BAD_REQUESTS[case]
    before = metric(url, 'score_errors_total{type="invalid_request"}')
    response = post(url, body)
    assert response.status_code == 400, response.text
    assert response.json() == {"object": "error", "message": response.json()["message"], "type": "invalid_request", "code": 400}
    assert message in response.json()["message"]
    assert metric(url, 'score_errors_total{type="invalid_request"}') == before + 1


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"{not json", "request body is not valid JSON"), (b"", "request body must be a JSON object")],
)
def test_unparseable_body_is_400(url, content, message):
    response = httpx.post(f"{url}/v1/score", content=content, headers={"content-type": "application/json"})
    assert response.status_code == 400 and message in response.json()["message"]


def test_unknown_path_and_method_answer_in_the_error_shape(url):
    assert httpx.get(f"{url}/v2/score").json() == {"object": "error", "message": "Not Found", "type": "not_found", "code": 404}
    assert httpx.get(f"{url}/v1/score").json()["code"] == 405


def test_oversized_body_is_413(url):
    big = {**DOCS_REQUEST, "items": ["x" * 1000] * 1100}  # > 1 MiB of JSON
    declared = post(url, big)
    assert declared.status_code == 413 and "over the limit of 1048576 bytes" in declared.json()["message"]

    def chunks():  # no Content-Length: the limit is enforced while reading
        yield b'{"query": "q", "items": ["'
        for _ in range(20):
            yield b"x" * 65536
        yield b'"], "label_token_ids": [1]}'

    streamed = httpx.post(f"{url}/v1/score", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413 and streamed.json()["type"] == "request_too_large"


def test_concurrent_requests_are_coalesced_into_one_batch(queued_server, url, metric):
    queued = queued_server.url
    bodies = [{**DOCS_REQUEST, "query": f"query number {i}", "items": varied_items(3, seed=i)} for i in range(queued_server.max_queue)]
    batches, requests = metric(queued, "score_batch_requests_count"), metric(queued, "score_batch_requests_sum")
    results = [None] * len(bodies)
    threads = [threading.Thread(target=lambda i=i: results.__setitem__(i, post(queued, bodies[i]))) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert metric(queued, "score_batch_requests_count") == batches + 1
    assert metric(queued, "score_batch_requests_sum") == requests + len(bodies)
    for body, result in zip(bodies, results):  # each request gets its own scores back
        np.testing.assert_allclose(result.json()["scores"], post(url, body).json()["scores"], atol=1e-6)


def test_full_queue_is_503_with_retry_after(saturated_server, metric):
    before = metric(saturated_server, 'score_errors_total{type="overloaded"}')
    response = post(saturated_server, DOCS_REQUEST)
    assert response.status_code == 503 and response.headers["retry-after"] == "1"
    assert response.json()["type"] == "overloaded" and "queue is full" in response.json()["message"]
    assert metric(saturated_server, 'score_errors_total{type="overloaded"}') == before + 1


@pytest.mark.slow  # over 5 s; the fast loop skips it
def test_request_not_scored_in_time_is_504_and_the_server_carries_on(score_server, metric_reaches):
    impatient = score_server(request_timeout_s=0.2)
    rng = random.Random(1)
    slow = {"query": [7] * 10, "items": [[rng.randrange(1000, 100000) for _ in range(1000)] for _ in range(64)], "label_token_ids": [1]}
    response = post(impatient, slow)
    assert response.status_code == 504 and response.json()["type"] == "timeout"
    assert "not scored within the request timeout of 0.2 s" in response.json()["message"]
    metric_reaches(impatient, "score_requests_in_flight", 0)  # the abandoned batch ran to its end
    assert post(impatient, DOCS_REQUEST).status_code == 200


def test_health_models_metrics_and_openapi(url, metric):
    assert httpx.get(f"{url}/health").json() == {"status": "ok"}
    model = post(url, DOCS_REQUEST).json()["model"]
    models = httpx.get(f"{url}/v1/models").json()
    assert models["object"] == "list" and [m["id"] for m in models["data"]] == [model]
    text = httpx.get(f"{url}/metrics").text
    for name in ("score_request_duration_seconds_bucket", "score_items_total", "score_queue_depth", "score_requests_in_flight", "score_batch_tokens_bucket", "score_batch_seconds_bucket", "score_errors_total"):
        assert name in text, name
    assert metric(url, "score_items_total") >= 3
    schema = httpx.get(f"{url}/openapi.json").json()
    responses = schema["paths"]["/v1/score"]["post"]["responses"]
    assert {"200", "400", "413", "503"} <= set(responses) and "422" not in responses


@pytest.mark.e2e  # a server subprocess
def test_cli_server_finishes_in_flight_requests_on_sigterm(tiny_model_dirs, metric_reaches):
    """`python -m serving.server`: a request queued when SIGTERM arrives is still answered;
    the server then stops accepting and exits."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    # One request waits its full batching delay (1.5 s) unless others arrive.
    command = [sys.executable, "-m", "serving.server", "--model-path", str(tiny_model_dirs["qwen3"]), "--port", str(port), "--max-queue", "4", "--max-wait-ms", "1500"]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/health").status_code == 200:
                    break
            except httpx.TransportError:
                assert server.poll() is None and time.monotonic() < deadline, "server did not start"
                time.sleep(0.1)
        answer = {}
        in_flight = threading.Thread(target=lambda: answer.setdefault("response", post(base, DOCS_REQUEST)))
        in_flight.start()
        metric_reaches(base, "score_queue_depth", 1)
        server.send_signal(signal.SIGTERM)
        in_flight.join(30)
        assert answer["response"].status_code == 200 and len(answer["response"].json()["scores"]) == 3
        assert server.wait(30) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal it handled
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{base}/health")
        log = server.stdout.read()
        assert "Waiting for connections to close" in log and "shutting down" in log
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


def _request_bodies():
    """Well-typed, scoreable requests with arbitrary contents: unicode texts or in-vocabulary
    token ids (delimiter and special ids included; an empty query too), any label ids, both
    flags. (Empty items are covered by the 400 cases.)"""
    from hypothesis import strategies as st

    vocab = 151936
    ids = st.lists(st.integers(0, vocab - 1), max_size=30)
    texts = st.text(max_size=120)
    item_ids = st.lists(st.integers(0, vocab - 1), min_size=1, max_size=30)
    item_texts = st.text(min_size=1, max_size=120)
    inputs = st.tuples(texts, st.lists(item_texts, max_size=6)) | st.tuples(ids, st.lists(item_ids, max_size=6))
    return st.builds(
        lambda query_items, labels, apply_softmax, item_first: {"query": query_items[0], "items": query_items[1], "label_token_ids": labels, "apply_softmax": apply_softmax, "item_first": item_first},
        inputs,
        st.lists(st.integers(0, vocab - 1), min_size=1, max_size=4) | st.just([9454, 2753]),
        st.booleans(),
        st.booleans(),
    )


@pytest.mark.slow  # over 5 s; the fast loop skips it
def test_arbitrary_requests_score_like_per_pair(url, ranker):
    from hypothesis import HealthCheck, given, settings

    @given(body=_request_bodies())
    @settings(max_examples=50, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
    def check(body):
        response = post(url, body)
        assert response.status_code == 200, response.text
        scores = np.array(response.json()["scores"]).reshape(len(body["items"]), len(body["label_token_ids"]))
        expected = per_pair(ranker, body["query"], body["items"], body["label_token_ids"], body["apply_softmax"], body["item_first"]) if body["items"] else scores
        assert np.abs(scores - expected).max(initial=0) <= 1e-5

    check()


@pytest.mark.slow  # over 5 s; the fast loop skips it
def test_fuzzed_requests_from_the_openapi_schema_never_get_a_server_error(url):
    """schemathesis generates valid and invalid bodies from the OpenAPI schema; every
    answer must be documented, in the documented shape, and never a 5xx."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import not_a_server_error, response_schema_conformance, status_code_conformance
    from schemathesis.generation import GenerationMode

    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    operation = schema["/v1/score"]["POST"]
    strategy = operation.as_strategy(generation_mode=GenerationMode.POSITIVE) | operation.as_strategy(generation_mode=GenerationMode.NEGATIVE)

    @given(case=strategy)
    @settings(max_examples=150, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
    def fuzz(case):
        case.call_and_validate(base_url=url, checks=[not_a_server_error, status_code_conformance, response_schema_conformance])

    fuzz()
    assert httpx.get(f"{url}/health").status_code == 200
