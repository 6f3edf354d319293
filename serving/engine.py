"""The scoring engine: an HF causal LM that scores `TokenizedRequest`s (one query, many
items).

Scoring modes, registered by name, differ only in how the hidden state at each item's
score position is computed; the LM head is then applied at those rows alone, and only to
the label rows when `apply_softmax` needs no full-vocabulary normaliser.

- `mis`: the planner's packed multi-item sequences in one forward pass (query computed
  once per sequence, items isolated by the attention backend);
- `prefix`: in-batch prefix caching: each distinct query prefix runs once, its keys and
  values are kept, and the items run as padded rows attending to them, the prefix and
  suffix attentions merged by log-sum-exp;
- `naive`: one padded row per (query, item) pair with the model's own attention: the
  baseline, and the path for `item_first` requests in every mode.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
from typing import Callable, Iterator

import numpy as np
import torch

from ranker.scoring import left_pad, load_ranker, padded_position_ids
from serving.attention.backends import get_backend
from serving.attention.dispatch import SCORING_ATTENTION, register_scoring_attention
from serving.attention.layouts import MultiItemLayout, PrefixCaptureLayout, prefix_item_layouts
from serving.plan import PackedBatch, TokenizedRequest, pair_sequences, plan_requests

log = logging.getLogger(__name__)

# (request index, item indices within the request, hidden states at their score rows [n, hidden])
HiddenRows = tuple[int, list[int], torch.Tensor]
SCORING_MODES: dict[str, Callable[["ScoringEngine", list[TokenizedRequest]], Iterator[HiddenRows]]] = {}


def register_mode(name: str):
    def decorate(fn):
        SCORING_MODES[name] = fn
        return fn

    return decorate


def label_probabilities(lm_head: torch.nn.Module, hidden: torch.Tensor, label_ids: list[int], apply_softmax: bool) -> np.ndarray:
    """[n, n_labels] probabilities: softmax over the label logits only (`apply_softmax`),
    else each label's probability under the full-vocabulary softmax."""
    ids = torch.tensor(label_ids, device=hidden.device)
    bias = getattr(lm_head, "bias", None)
    if apply_softmax:
        logits = hidden @ lm_head.weight[ids].T
        if bias is not None:
            logits = logits + bias[ids]
        return torch.softmax(logits.double(), dim=-1).cpu().numpy()
    logprobs = torch.log_softmax(lm_head(hidden).float(), dim=-1)[:, ids]
    return logprobs.double().exp().cpu().numpy()


class ScoringEngine:
    """Scores requests with one model, one attention backend and one scoring mode. `score` is
    thread-safe (one forward at a time) and CPU/GPU-bound: call it from a worker thread."""

    def __init__(self, model, tokenizer, backend: str = "torch", mode: str = "mis", max_batch_tokens: int = 8192, model_name: str | None = None):
        if mode not in SCORING_MODES:
            raise ValueError(f"unknown scoring mode {mode!r}; choose one of {sorted(SCORING_MODES)}")
        if max_batch_tokens < 2:
            raise ValueError(f"max_batch_tokens must be at least 2, got {max_batch_tokens}")
        register_scoring_attention()
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.backend = get_backend(backend)
        self.mode = mode
        self.max_batch_tokens = max_batch_tokens
        self.model_name = model_name or getattr(model.config, "_name_or_path", None) or type(model).__name__
        self.base = model.base_model
        self.lm_head = model.get_output_embeddings()
        self.vocab_size = self.lm_head.weight.shape[0]
        # A pair and its two delimiters must fit one packed sequence and the position table.
        self.max_pair_tokens = min(int(getattr(model.config, "max_position_embeddings", 0) or 2048), max_batch_tokens - 2)
        # Delimiters are never attended to, so any id works; pad keeps them recognisable.
        self.delimiter = next((t for t in (tokenizer.pad_token_id, tokenizer.eos_token_id) if t is not None), 0)
        self._lock = threading.Lock()

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @contextlib.contextmanager
    def _attention(self, implementation: str):
        """Run the model with another attention implementation (the layers read it from
        the shared config on every call)."""
        config = self.model.config
        previous = config._attn_implementation
        config._attn_implementation = implementation
        try:
            yield
        finally:
            config._attn_implementation = previous

    def _hidden(self, input_ids, position_ids, attention_mask=None, **layout) -> torch.Tensor:
        return self.base(input_ids=input_ids, position_ids=position_ids, attention_mask=attention_mask, use_cache=False, **layout).last_hidden_state

    def _run_with_layout(self, layout) -> torch.Tensor:
        """Hidden states of the layout's pass (its inputs, its attention)."""
        with self._attention(SCORING_ATTENTION):
            return self._hidden(layout.input_ids, layout.position_ids, scoring_layout=layout, scoring_backend=self.backend)

    @torch.inference_mode()
    def score(self, requests: list[TokenizedRequest]) -> list[np.ndarray]:
        """Per request, float64 [n_items, n_labels] label probabilities."""
        results = [np.zeros((len(request.items), len(request.label_ids))) for request in requests]
        # Item-first requests go to the per-pair path; an item-less stand-in keeps request indices.
        shared = [_without_items(request) if request.item_first else request for request in requests]
        item_first = [request if request.item_first else _without_items(request) for request in requests]
        with self._lock:
            for request_index, items, hidden in itertools.chain(SCORING_MODES[self.mode](self, shared), per_pair_rows(self, item_first)):
                request = requests[request_index]
                results[request_index][items] = label_probabilities(self.lm_head, hidden, request.label_ids, request.apply_softmax)
        return results


def _without_items(request: TokenizedRequest) -> TokenizedRequest:
    return TokenizedRequest(request.query, [], request.label_ids, request.apply_softmax)


def _group_rows(batch: PackedBatch, hidden: torch.Tensor) -> Iterator[HiddenRows]:
    """Split score-row hidden states [n_items_in_batch, hidden] back per sequence."""
    start = 0
    for sequence in batch.sequences:
        yield sequence.request, sequence.items, hidden[start : start + len(sequence.items)]
        start += len(sequence.items)


@register_mode("mis")
def multi_item_rows(engine: ScoringEngine, requests: list[TokenizedRequest]) -> Iterator[HiddenRows]:
    for batch in plan_requests(requests, engine.max_batch_tokens, engine.delimiter):
        layout = MultiItemLayout.build(batch, engine.device)
        hidden = engine._run_with_layout(layout)[0]
        yield from _group_rows(batch, hidden[layout.score_index])


@register_mode("prefix")
def prefix_cached_rows(engine: ScoringEngine, requests: list[TokenizedRequest]) -> Iterator[HiddenRows]:
    device = engine.device
    for batch in plan_requests(requests, engine.max_batch_tokens, engine.delimiter):
        prefixes = PrefixCaptureLayout.build(batch, engine.delimiter, device)
        engine._run_with_layout(prefixes)
        hidden = None
        for layout in prefix_item_layouts(prefixes, batch, engine.delimiter, device):
            states = engine._run_with_layout(layout)
            last_rows = states[torch.arange(len(layout.owner), device=device), layout.last_token]
            if hidden is None:
                hidden = last_rows.new_empty((sum(len(s.items) for s in batch.sequences), last_rows.shape[-1]))
            hidden[layout.batch_items] = last_rows
        yield from _group_rows(batch, hidden)


@register_mode("naive")
def per_pair_rows(engine: ScoringEngine, requests: list[TokenizedRequest]) -> Iterator[HiddenRows]:
    """One left-padded row per pair, in request order, rows x width within the budget."""
    rows = pair_sequences(requests)
    batches, current, width = [], [], 0
    for row in rows:
        if current and (len(current) + 1) * max(width, len(row)) > engine.max_batch_tokens:
            batches.append(current)
            current, width = [], 0
        current.append(row)
        width = max(width, len(row))
    if current:
        batches.append(current)
    for batch in batches:
        input_ids, attention_mask = left_pad([row.input_ids for row in batch], engine.delimiter)
        input_ids, attention_mask = input_ids.to(engine.device), attention_mask.to(engine.device)
        with engine._attention("sdpa"):
            hidden = engine._hidden(input_ids, padded_position_ids(attention_mask), attention_mask)[:, -1]
        start = 0
        for request, group in itertools.groupby(batch, key=lambda row: row.request):
            items = [row.item for row in group]
            yield request, items, hidden[start : start + len(items)]
            start += len(items)


def load_engine(model_path: str, backend: str = "torch", mode: str = "mis", dtype: str = "float32", device: str | None = None, max_batch_tokens: int = 8192) -> ScoringEngine:
    """Load an HF causal-LM directory (with its tokenizer) into a scoring engine."""
    ranker = load_ranker(model_path, device=device, dtype=dtype)
    engine = ScoringEngine(ranker.model, ranker.tokenizer, backend=backend, mode=mode, max_batch_tokens=max_batch_tokens, model_name=str(model_path))
    log.info("scoring engine: %s, backend=%s, mode=%s, dtype=%s, device=%s, max_batch_tokens=%d", model_path, backend, mode, dtype, engine.device, max_batch_tokens)
    return engine
