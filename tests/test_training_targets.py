"""Training targets: the auxiliary lexical-match targets and loss (ranker.train_aids), and the
pair targets and label loss (ranker.train), against hand-worked values."""

import math

import numpy as np
import pytest
import torch

from ranker.tokenizer import spelling_keys
from ranker.train import LeftPadCollator, PairDataset, TrainOptions, label_cross_entropy, parse_args, training_targets
from ranker.train_aids import LexicalMatch, NegativeSubsampler, TrainingAids, lexical_match_loss, match_targets, relevant_pair_weights, training_aids


def test_match_targets_mark_item_text_tokens_found_in_the_query():
    # query part [5, 6, 7], item text [6, 9, 7, 3, 4], item template suffix [8, 8]; 7 is
    # ignored and 4 is spelled like 5 up to case.
    targets = match_targets([5, 6, 7, 6, 9, 7, 3, 4, 8, 8], query_length=3, item_suffix_tokens=2, token_keys={4: 5}, ignored_keys={7})
    assert targets == [-1, -1, -1, 1.0, 0.0, 0.0, 0.0, 1.0, -1, -1]


def test_item_first_match_targets_mark_query_tokens_found_in_the_item():
    # item part [6, 9, 3, 8], query part [5, 6, 7, 2]; 7 is ignored, 2 is spelled like 3.
    targets = match_targets([6, 9, 3, 8, 5, 6, 7, 2], query_length=4, item_suffix_tokens=1, token_keys={2: 3}, ignored_keys={7}, item_first=True)
    assert targets == [-1, -1, -1, -1, 0.0, 1.0, -1, 1.0]


def test_token_keys_ignore_case_and_spaces():
    from ranker.tokenizer import load_qwen3_tokenizer

    tok = load_qwen3_tokenizer()
    ids = {tok.convert_tokens_to_ids(t) for t in ["Senior", "Ġsenior", "ĠSenior", "ĠSpark", "Ġspark", "ĠData"]}
    keys = spelling_keys(tok, ids)
    spelled = lambda word: {keys[i] for i in ids if tok.decode([i]).strip().lower() == word}  # noqa: E731
    assert len(spelled("senior")) == 1 and len(spelled("spark")) == 1
    assert spelled("senior") != spelled("spark")


def test_tiny_ranker_can_start_spelling_variants_from_one_embedding(tmp_path):
    from transformers import AutoModelForCausalLM

    from ranker.tiny import build_tiny_ranker
    from ranker.tokenizer import load_qwen3_tokenizer

    build_tiny_ranker(tmp_path, hidden_size=16, num_layers=1, num_heads=2, intermediate_size=32, share_spellings=True)
    weight = AutoModelForCausalLM.from_pretrained(tmp_path).get_input_embeddings().weight
    row = lambda token: weight[load_qwen3_tokenizer().convert_tokens_to_ids(token)]  # noqa: E731
    assert torch.equal(row("Senior"), row("Ġsenior")) and torch.equal(row("ĠSenior"), row("Ġsenior"))
    assert not torch.equal(row("Yes"), row("No"))
    assert not torch.equal(row("Ċ"), row("Ġ"))  # whitespace tokens keep their own rows


def test_collator_left_pads_match_targets_with_ignore():
    lexical_match = LexicalMatch(weight=1.0, query_lengths=[2, 2], item_suffix_tokens=1, token_keys={}, ignored_keys=set())
    data = PairDataset([[5, 6, 6, 8], [5, 6, 9, 6, 8]], np.array([0.0, 1.0]), [lexical_match])
    batch = LeftPadCollator(pad_id=0, auxiliary_losses=[lexical_match])([data[0], data[1]])
    assert batch["input_ids"].tolist() == [[0, 5, 6, 6, 8], [5, 6, 9, 6, 8]]
    assert batch["match_target"].tolist() == [[-1, -1, -1, 1, -1], [-1, -1, 0, 1, -1]]
    assert batch["target"].tolist() == [0.0, 1.0]


def test_lexical_match_loss_is_class_balanced_bce_of_the_label_margin():
    hidden = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [2.0, 0.0], [0.0, 0.0]]])
    label_rows = torch.tensor([[1.0, 0.0], [0.0, 1.0]])  # margin = h0 - h1: 1, -1, 2, 0
    target = torch.tensor([[1.0, 0.0, 0.0, -1.0]])  # one positive, two negatives, one ignored
    sp = lambda x: math.log1p(math.exp(x))  # noqa: E731  -log(sigmoid(-x))
    expected = (2 * sp(-1) + sp(-1) + sp(2)) / 3  # positive weighted by 2 negatives / 1 positive
    assert lexical_match_loss(hidden, label_rows, target).item() == pytest.approx(expected, rel=1e-6)


def test_collator_without_auxiliary_losses_pads_only_the_pairs():
    data = PairDataset([[5, 6], [5, 6, 9]], np.array([1.0, 0.0]))
    batch = LeftPadCollator(pad_id=0)([data[0], data[1]])
    assert sorted(batch) == ["attention_mask", "input_ids", "target"]
    assert batch["input_ids"].tolist() == [[0, 5, 6], [5, 6, 9]] and batch["attention_mask"].tolist() == [[0, 1, 1], [1, 1, 1]]


def test_training_targets_binary_and_graded():
    labels = np.array([0, 1, 2, 3])
    binary = parse_args(["--data", "d", "--model", "m", "--out", "o"])
    graded = parse_args(["--data", "d", "--model", "m", "--out", "o", "--graded-targets"])
    assert training_targets(binary, None, [], labels).tolist() == [0.0, 0.0, 1.0, 1.0]
    np.testing.assert_allclose(training_targets(graded, None, [], labels), [0.0, 1 / 3, 2 / 3, 1.0], rtol=1e-6)


def test_label_cross_entropy_weighs_relevant_pairs():
    logprobs = torch.log(torch.tensor([[0.8, 0.2], [0.4, 0.6], [0.1, 0.9]]))
    target = torch.tensor([1.0, 1 / 3, 0.0])
    losses = [-math.log(0.8), -(math.log(0.4) / 3 + 2 * math.log(0.6) / 3), -math.log(0.9)]
    assert relevant_pair_weights(target, 1.0).tolist() == [1.0, 1.0, 1.0]
    assert label_cross_entropy(logprobs, target, relevant_pair_weights(target, 1.0)).item() == pytest.approx(sum(losses) / 3, rel=1e-6)
    # Relevant pairs (target > 0) weigh 4: (4 * l0 + 4 * l1 + l2) / 9.
    assert relevant_pair_weights(target, 4.0).tolist() == [4.0, 4.0, 1.0]
    assert label_cross_entropy(logprobs, target, relevant_pair_weights(target, 4.0)).item() == pytest.approx((4 * losses[0] + 4 * losses[1] + losses[2]) / 9, rel=1e-6)


def test_negative_subsampler_keeps_every_positive_and_a_fresh_share_of_the_rest():
    targets = np.array([0.0] * 40 + [1 / 3, 2 / 3, 1.0] * 4)  # 40 negatives, 12 positives
    sampler = NegativeSubsampler(targets, share=0.25, seed=7)
    passes = []
    for epoch in range(3):
        sampler.set_epoch(epoch)
        order = list(sampler)
        assert len(order) == len(sampler) == 12 + 10 and len(set(order)) == len(order)
        assert set(range(40, 52)) <= set(order)  # every positive, every pass
        passes.append(order)
    assert len({frozenset(i for i in order if i < 40) for order in passes}) == 3  # fresh negatives each pass
    sampler.set_epoch(1)
    assert list(sampler) == passes[1]  # a resumed pass replays the same order
    with pytest.raises(ValueError, match="negative share"):
        NegativeSubsampler(targets, share=0.0, seed=0)


def test_negative_subsampler_groups_pairs_of_similar_length_into_batches():
    targets = np.array([0.0, 1.0] * 100)
    lengths = np.array([60, 400] * 50 + [400, 60] * 50)  # summaries and postings interleaved
    plain = NegativeSubsampler(targets, share=0.5, seed=3)
    grouped = NegativeSubsampler(targets, share=0.5, seed=3, lengths=lengths, batch_size=5)
    order = list(grouped)
    assert sorted(order) == sorted(plain)  # the same pairs; only their order changes
    runs = [order[i : i + 5 * 50] for i in range(0, len(order), 5 * 50)]
    assert all(list(lengths[run]) == sorted(lengths[run], reverse=True) for run in runs)
    padded = sum(5 * max(lengths[order[i : i + 5]]) for i in range(0, len(order), 5))
    assert padded < 0.6 * sum(5 * max(lengths[list(plain)[i : i + 5]]) for i in range(0, len(order), 5))


def test_aids_are_off_by_default_and_on_by_their_options():
    targets = np.array([0.0, 1.0, 0.0, 0.0])
    assert training_aids(TrainOptions("d", "m", "o"), None, [], [], targets) == TrainingAids(relevant_weight=1.0, sampler=None, auxiliary_losses=[])
    aids = training_aids(TrainOptions("d", "m", "o", negative_share=0.5, relevant_weight=3.0), None, [], [[7]] * 4, targets)
    assert isinstance(aids.sampler, NegativeSubsampler) and len(aids.sampler) == 1 + 2  # the positive, half of 3 negatives rounded
    assert aids.auxiliary_losses == []
    assert aids.pair_weights(torch.tensor([0.0, 1.0])).tolist() == [1.0, 3.0]
