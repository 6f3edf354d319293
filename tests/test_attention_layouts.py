"""The attention layouts by hand (inputs, positions, masks of each pass), length bucketing,
and the dispatch's pieces: the torch backend's gather blocks against the pointwise
multi-item rule, and the log-sum-exp merge against attention over the union of keys."""

import pytest
import torch

from serving.attention.backends import TorchBackend
from serving.attention.dispatch import merge_by_lse, scoring_attention
from serving.attention.layouts import ITEMS_PER_BLOCK, MultiItemLayout, PrefixCaptureLayout, length_buckets, prefix_item_layouts
from serving.plan import PackedBatch, multi_item_sequence

D = 0  # delimiter and pad id
PAD = 99


def two_sequence_batch() -> PackedBatch:
    """Query [11, 12] with items [21, 22] and [31]; query [41] with item [51, 52, 53]."""
    first = multi_item_sequence(0, [11, 12], [[21, 22], [31]], [0, 1], delimiter=D)
    second = multi_item_sequence(1, [41], [[51, 52, 53]], [0], delimiter=D)
    return PackedBatch([first, second])


def test_length_buckets_sort_stably_and_cut_blocks():
    assert length_buckets([5, 1, 3, 1]) == [[1, 3, 2, 0]]
    assert length_buckets([]) == []
    twenty = length_buckets(list(range(20, 0, -1)))
    assert ITEMS_PER_BLOCK == 16 and twenty == [list(range(19, 3, -1)), [3, 2, 1, 0]]


def test_item_spans_are_the_items_token_indices():
    seq = multi_item_sequence(0, [11, 12, 13], [[21, 22], [31], [41, 42, 43]], [0, 1, 2], delimiter=D)
    assert seq.item_spans == [range(4, 6), range(7, 8), range(9, 12)]
    assert [seq.input_ids[s.start : s.stop] for s in seq.item_spans] == [[21, 22], [31], [41, 42, 43]]


def test_multi_item_layout_by_hand():
    layout = MultiItemLayout.build(two_sequence_batch(), "cpu")
    # [11 12 D 21 22 D 31 D] then [41 D 51 52 53 D]
    assert layout.total == 14
    assert layout.input_ids.tolist() == [[11, 12, D, 21, 22, D, 31, D, 41, D, 51, 52, 53, D]]
    assert layout.position_ids.tolist() == [[0, 1, 2, 2, 3, 4, 2, 3, 0, 1, 1, 2, 3, 4]]
    assert layout.score_index.tolist() == [4, 6, 12]
    allowed = layout.allowed(torch.arange(14)[:, None], torch.arange(14)[None, :])
    visible = {q: allowed[q].nonzero().flatten().tolist() for q in range(14)}
    assert visible[1] == [0, 1]  # the query, causally
    assert visible[4] == [0, 1, 3, 4]  # item 1: query and itself, not the delimiter
    assert visible[6] == [0, 1, 6]  # item 2 does not see item 1
    assert visible[5] == [0, 1]  # a delimiter sees only the query
    assert visible[12] == [8, 10, 11, 12]  # the second sequence sees nothing of the first
    # Gather blocks: the prefixes, then one bucket of all three items, shortest first.
    prefixes, items = layout.blocks
    assert prefixes.rows.tolist() == [[0, 1], [8, 0]] and prefixes.valid.tolist() == [[True, True], [True, False]]
    assert items.rows.tolist() == [[6, 0, 0], [3, 4, 0], [10, 11, 12]]
    assert items.keys.tolist() == [[0, 1, 6, 0, 0], [0, 1, 3, 4, 0], [8, 0, 10, 11, 12]]


def test_gather_blocks_equal_the_pointwise_rule():
    torch.manual_seed(0)
    layout = MultiItemLayout.build(two_sequence_batch(), "cpu")
    query, key, value = (torch.randn(1, 4, 14, 8) for _ in range(3))
    key, value = key[:, :2], value[:, :2]  # grouped heads: 4 query heads share 2 key heads
    got = TorchBackend().multi_item(query, key, value, layout, scaling=0.3)[0]
    dense = layout.allowed(torch.arange(14)[:, None], torch.arange(14)[None, :])
    expected = torch.nn.functional.scaled_dot_product_attention(query, key, value, attn_mask=dense, scale=0.3, enable_gqa=True)[0].transpose(0, 1)
    tokens = (layout.token_in_prefix | (layout.token_pos_in_item > 0)).nonzero().flatten()  # delimiters are never read
    torch.testing.assert_close(got[tokens], expected[tokens], atol=1e-6, rtol=0)


def test_prefix_layouts_by_hand():
    batch = two_sequence_batch()
    prefixes = PrefixCaptureLayout.build(batch, PAD, "cpu")
    assert prefixes.input_ids.tolist() == [[11, 12], [41, PAD]]
    assert prefixes.position_ids.tolist() == [[0, 1], [0, 1]]
    # The pad row sees key 0 only so that its softmax stays finite.
    assert prefixes.mask.tolist() == [[[True, False], [True, True]], [[True, False], [True, False]]]
    (items,) = prefix_item_layouts(prefixes, batch, PAD, "cpu")
    assert items.batch_items.tolist() == [1, 0, 2]  # [31], [21, 22], [51, 52, 53]
    assert items.owner.tolist() == [0, 0, 1]
    assert items.input_ids.tolist() == [[31, PAD, PAD], [21, 22, PAD], [51, 52, 53]]
    # Item tokens continue from their own query's length, as in the packed sequence.
    assert items.position_ids.tolist() == [[2, 3, 4], [2, 3, 4], [1, 2, 3]]
    assert items.last_token.tolist() == [0, 1, 2]
    assert items.prefix_mask[:, 0].tolist() == [[True, True], [True, True], [True, False]]
    assert items.own_mask[1].tolist() == [[True, False, False], [True, True, False], [True, True, False]]


def test_merged_halves_equal_attention_over_all_keys():
    torch.manual_seed(1)
    query, key, value = torch.randn(2, 2, 3, 4), torch.randn(2, 2, 7, 4), torch.randn(2, 2, 7, 4)
    mask = torch.rand(2, 3, 7) > 0.3
    mask[..., 0] = mask[..., 5] = True  # every row sees a key in each half
    backend = TorchBackend()
    whole, _ = backend.attention_with_lse(query, key, value, mask, 0.5)
    out_a, lse_a = backend.attention_with_lse(query, key[:, :, :5], value[:, :, :5], mask[..., :5], 0.5)
    out_b, lse_b = backend.attention_with_lse(query, key[:, :, 5:], value[:, :, 5:], mask[..., 5:], 0.5)
    torch.testing.assert_close(merge_by_lse(out_a, lse_a, out_b, lse_b), whole, atol=1e-6, rtol=0)


def test_scoring_attention_needs_a_layout():
    with pytest.raises(ValueError, match=r"attention 'rlsum_scoring' needs a scoring_layout, got NoneType"):
        scoring_attention(None, torch.zeros(1, 1, 1, 2), torch.zeros(1, 1, 1, 2), torch.zeros(1, 1, 1, 2), None)
