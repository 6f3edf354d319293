import random

import numpy as np
import pytest
import torch

from ranker.scoring import load_ranker, positive_probability
from ranker.template import PromptTemplate

WORDS = "senior data engineer seattle remote spark python kafka salary benefits location hybrid austin the of and".split()


def random_pairs(n, seed=0, max_item_words=200):
    rng = random.Random(seed)
    return [(" ".join(rng.choices(WORDS, k=rng.randint(2, 8))), " ".join(rng.choices(WORDS, k=rng.randint(1, max_item_words)))) for _ in range(n)]


def unpadded_logprobs(ranker, query, item):
    """Independent computation: the plain forward of the single unpadded sequence, full
    logits at every position, log-softmax at the last one."""
    query_ids = ranker.tokenizer(ranker.template.format_query(query), add_special_tokens=False)["input_ids"]
    item_ids = ranker.tokenizer(ranker.template.format_item(item), add_special_tokens=False)["input_ids"]
    ids = item_ids + query_ids if ranker.template.item_first else query_ids + item_ids
    with torch.no_grad():
        logits = ranker.model(input_ids=torch.tensor([ids])).logits[0, -1].double()
    return torch.log_softmax(logits, -1)[ranker.label_ids].numpy()


@pytest.mark.parametrize("arch", ["qwen3", pytest.param("llama", marks=pytest.mark.slow), "item-first"])
def test_batched_padded_scoring_equals_one_pair_at_a_time(tiny_model_dirs, arch):
    ranker = load_ranker(tiny_model_dirs[arch])
    pairs = random_pairs(24, seed=1)
    batched = ranker.score_pairs(pairs, batch_size=8)
    singles = [ranker.score_pairs([pair], batch_size=1) for pair in pairs]
    p_single = np.array([s.p_yes[0] for s in singles])
    assert np.abs(batched.p_yes - p_single).max() <= 1e-5
    assert np.abs(batched.label_logprobs - np.array([s.label_logprobs[0] for s in singles])).max() <= 1e-4
    # The tiny random models must not be degenerate for this check to mean anything.
    assert batched.p_yes.std() > 0.01


@pytest.mark.parametrize("arch", ["qwen3", pytest.param("llama", marks=pytest.mark.slow), "item-first"])
def test_scores_equal_plain_forward_of_concatenated_tokens(tiny_model_dirs, arch):
    ranker = load_ranker(tiny_model_dirs[arch])
    pairs = random_pairs(6, seed=2)
    scores = ranker.score_pairs(pairs, batch_size=3)
    for (query, item), lp in zip(pairs, scores.label_logprobs):
        np.testing.assert_allclose(lp, unpadded_logprobs(ranker, query, item), atol=1e-4)


def test_p_yes_is_renormalised_over_labels():
    lp = np.log(np.array([[0.2, 0.6], [0.01, 0.01]]))
    np.testing.assert_allclose(positive_probability(lp), [0.25, 0.5])
    np.testing.assert_allclose(positive_probability(torch.tensor(lp)).numpy(), [0.25, 0.5])


def test_pair_tokens_are_query_part_then_item_part(tiny_model_dirs):
    ranker = load_ranker(tiny_model_dirs["qwen3"])
    query, item = "remote senior data engineer roles using spark", "Senior Data Engineer\nLocation: Remote (US)"
    (ids,), _ = ranker.encode_pairs([(query, item)])
    tok = ranker.tokenizer
    assert ids == tok(ranker.template.format_query(query), add_special_tokens=False)["input_ids"] + tok(ranker.template.format_item(item), add_special_tokens=False)["input_ids"]
    assert ranker.label_ids == [9454, 2753]  # Qwen3's "Yes" and "No"


def test_item_first_template_puts_the_query_part_last_and_cuts_only_the_item(tiny_model_dirs):
    ranker = load_ranker(tiny_model_dirs["item-first"], max_length=64)
    tok = ranker.tokenizer
    query = "senior data engineer"
    query_ids = tok(ranker.template.format_query(query), add_special_tokens=False)["input_ids"]
    (short, long), (short_item, long_item) = ranker.encode_pairs([(query, "Senior Data Engineer"), (query, "spark " * 500)])
    assert short == tok(ranker.template.format_item("Senior Data Engineer"), add_special_tokens=False)["input_ids"] + query_ids
    assert long[-len(query_ids) :] == query_ids and len(long) <= 64
    assert short_item.dropped_tokens == 0 and long_item.dropped_tokens > 400


def test_long_items_are_truncated_explicitly_keeping_the_template(tiny_model_dirs, caplog):
    ranker = load_ranker(tiny_model_dirs["qwen3"], max_length=64)
    pairs = [("data engineer", "spark " * 500), ("data engineer", "short item")]
    with caplog.at_level("WARNING"):
        scores = ranker.score_pairs(pairs)
    assert scores.truncated.tolist() == [True, False]
    assert scores.prompt_tokens[0] <= 64
    assert "1 of 2 items were truncated" in caplog.text
    sequences, items = ranker.encode_pairs(pairs)
    suffix = ranker.tokenizer(ranker.template.format_item(""), add_special_tokens=False)["input_ids"][-2:]
    assert sequences[0][-2:] == suffix and items[0].dropped_tokens > 400


@pytest.mark.slow  # over 5 s; the fast loop skips it
def test_bfloat16_scoring_is_close_to_float32(tiny_model_dirs):
    pairs = random_pairs(8, seed=3, max_item_words=50)
    fp32 = load_ranker(tiny_model_dirs["qwen3"]).score_pairs(pairs)
    bf16 = load_ranker(tiny_model_dirs["qwen3"], dtype="bfloat16").score_pairs(pairs)
    assert np.abs(fp32.p_yes - bf16.p_yes).max() < 0.1


def test_labels_must_be_single_tokens(tiny_model_dirs):
    with pytest.raises(ValueError, match="'Definitely' is 2 tokens"):
        load_ranker(tiny_model_dirs["qwen3"], labels=("Definitely", "No"))


def test_labels_can_be_overridden(tiny_model_dirs):
    ranker = load_ranker(tiny_model_dirs["qwen3"], labels=("yes", "no"))
    assert ranker.label_ids == ranker.tokenizer.convert_tokens_to_ids(["yes", "no"])


def test_template_round_trip_and_validation(tmp_path):
    template = PromptTemplate(query="Q: {query}\n", item="D: {item}\nA:", labels=("True", "False"), item_first=True)
    template.save(tmp_path)
    assert PromptTemplate.load(tmp_path) == template
    with pytest.raises(ValueError, match="must contain '{item}'"):
        PromptTemplate(item="no placeholder")


def test_missing_model_directory_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no config.json"):
        load_ranker(tmp_path)
