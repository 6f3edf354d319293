"""The multi-item layout planner: one function that every scoring backend consumes.

A `/v1/score` request (one query, N items) becomes packed sequences of the form

    <query><D><item 1><D><item 2><D> ... <item K><D>

where the query is the shared prefix (P = query length), item tokens restart their
positions at P (item token t, 1-based, sits at position P + t - 1, exactly where it would
sit if the pair were scored alone), and `pos_in_item` gives each token after the prefix its
1-based place in its item, 0 at delimiters. The attention rule every backend implements is
FlashInfer's multi-item mask: a prefix token attends causally within the prefix; a token
with pos_in_item p attends to the whole prefix and to the last p tokens up to itself (its
own item). Delimiters (p = 0) therefore see only the prefix and nobody sees them: they
mark item boundaries and never change a score. The score of an item is read at its last
token (`score_rows`).

Requests larger than the token budget are split over several sequences, each repeating
the query; sequences of several requests are packed into batches under the same budget.
The planner is pure Python: no torch, no model.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class TokenizedRequest:
    """One scoring request in token ids: a query, its items and the label tokens."""

    query: list[int]
    items: list[list[int]]
    label_ids: list[int]
    apply_softmax: bool = False
    item_first: bool = False


@dataclass
class PackedSequence:
    """One multi-item sequence: a request's query followed by some of its items."""

    request: int  # index of the request in the planned list
    items: list[int]  # indices (into the request's items) of the items packed here, in order
    input_ids: list[int]
    position_ids: list[int]
    prefix_len: int  # the query's tokens, attended by every item
    pos_in_item: list[int]  # one per token after the prefix: 1..L inside an item, 0 at delimiters
    score_rows: list[int]  # per item, the index in this sequence of its last token

    def __len__(self) -> int:
        return len(self.input_ids)

    @property
    def max_item_len(self) -> int:
        return max(self.pos_in_item, default=0)

    @property
    def item_spans(self) -> list[range]:
        """Per item, the indices of its tokens in this sequence."""
        return [range(row - self.pos_in_item[row - self.prefix_len] + 1, row + 1) for row in self.score_rows]


@dataclass
class PackedBatch:
    """Sequences executed in one forward pass; their tokens sum to at most the budget."""

    sequences: list[PackedSequence] = field(default_factory=list)

    @property
    def tokens(self) -> int:
        return sum(len(s) for s in self.sequences)


def multi_item_sequence(request_index: int, query: list[int], items: list[list[int]], item_indices: list[int], delimiter: int) -> PackedSequence:
    """Lay out `query` then the given items, each followed by a delimiter."""
    prefix_len = len(query)
    input_ids = list(query) + [delimiter]
    # A delimiter's position is never seen by another token; P keeps positions monotone.
    position_ids = list(range(prefix_len)) + [prefix_len]
    pos_in_item = [0]
    score_rows = []
    for index in item_indices:
        item = items[index]
        input_ids += item
        position_ids += range(prefix_len, prefix_len + len(item))
        pos_in_item += range(1, len(item) + 1)
        score_rows.append(len(input_ids) - 1)
        input_ids.append(delimiter)
        position_ids.append(prefix_len + len(item))
        pos_in_item.append(0)
    return PackedSequence(request_index, list(item_indices), input_ids, position_ids, prefix_len, pos_in_item, score_rows)


def plan_requests(requests: list[TokenizedRequest], max_batch_tokens: int, delimiter: int) -> list[PackedBatch]:
    """Split each request's items over sequences of at most `max_batch_tokens` tokens
    (query repeated in each), then pack sequences into batches under the same budget, in
    request order. Item-first requests are planned per pair (see `pair_sequences`), not here."""
    sequences: list[PackedSequence] = []
    for request_index, request in enumerate(requests):
        if request.item_first:
            raise ValueError("item-first requests have no shared prefix; plan them with pair_sequences")
        chunk: list[int] = []
        used = len(request.query) + 1
        for index, item in enumerate(request.items):
            cost = len(item) + 1
            if used + cost > max_batch_tokens and chunk:
                sequences.append(multi_item_sequence(request_index, request.query, request.items, chunk, delimiter))
                chunk, used = [], len(request.query) + 1
            if used + cost > max_batch_tokens:
                raise ValueError(f"request {request_index} item {index}: query ({len(request.query)} tokens) + item ({len(item)} tokens) exceed max_batch_tokens={max_batch_tokens}")
            chunk.append(index)
            used += cost
        if chunk:
            sequences.append(multi_item_sequence(request_index, request.query, request.items, chunk, delimiter))
    return pack(sequences, max_batch_tokens)


def pack(sequences: list, max_batch_tokens: int) -> list[PackedBatch]:
    """Greedy in-order packing: a batch closes when the next sequence would overflow it."""
    batches: list[PackedBatch] = []
    current = PackedBatch()
    for sequence in sequences:
        if current.sequences and current.tokens + len(sequence) > max_batch_tokens:
            batches.append(current)
            current = PackedBatch()
        current.sequences.append(sequence)
    if current.sequences:
        batches.append(current)
    return batches


@dataclass
class PairSequence:
    """One (query, item) pair as its own row: the naive layout and the item-first layout."""

    request: int
    item: int
    input_ids: list[int]

    def __len__(self) -> int:
        return len(self.input_ids)


def pair_sequences(requests: list[TokenizedRequest]) -> list[PairSequence]:
    """Every (query, item) pair of every request as one row, item first where the request
    asks. A causal LM cannot reuse a shared suffix (the query's states depend on the item
    before it), so item-first pairs are always scored this way."""
    rows = []
    for request_index, request in enumerate(requests):
        for index, item in enumerate(request.items):
            ids = list(item) + list(request.query) if request.item_first else list(request.query) + list(item)
            rows.append(PairSequence(request_index, index, ids))
    return rows
