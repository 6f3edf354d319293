"""Any Hugging Face causal LM as a ranker: P(label) read at the last token of a pair.

`label_logprobs` is the one forward pass shared by scoring, training and evaluation. Rows
are left-padded with explicit position ids, so every row's score position is the last
one and each real token keeps the position it has in the unpadded pair; the model's own
forward (wrappable by DDP/FSDP) then applies the LM head at that position only
(`logits_to_keep=1`) instead of over the whole vocabulary at every position.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from ranker.template import PromptTemplate
from ranker.token_budget import fit_start, text_offsets

log = logging.getLogger(__name__)

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def forward_to_last_position(model, input_ids: torch.Tensor, attention_mask: torch.Tensor, output_hidden_states: bool = False):
    """The model's own forward over left-padded rows (see `left_pad`), with logits at the
    last position only."""
    return model(input_ids=input_ids, attention_mask=attention_mask, logits_to_keep=1, use_cache=False, output_hidden_states=output_hidden_states, position_ids=padded_position_ids(attention_mask))


def last_label_logprobs(logits: torch.Tensor, label_ids: torch.Tensor) -> torch.Tensor:
    """Label-token log-probabilities under the full-vocabulary softmax at the last position."""
    return torch.log_softmax(logits[:, -1].float(), dim=-1)[:, label_ids]


def label_logprobs(model, input_ids: torch.Tensor, attention_mask: torch.Tensor, label_ids: torch.Tensor) -> torch.Tensor:
    """Log-probabilities [batch, n_labels] of the label tokens at the last position of
    left-padded rows."""
    return last_label_logprobs(forward_to_last_position(model, input_ids, attention_mask).logits, label_ids)


def positive_probability(logprobs: torch.Tensor | np.ndarray):
    """P(first label) renormalised over the label tokens: the Bernoulli P(Yes) that ranks
    items and enters the reward. Works on torch tensors and numpy arrays."""
    if isinstance(logprobs, torch.Tensor):
        return torch.softmax(logprobs.float(), dim=-1)[..., 0]
    shifted = np.exp(logprobs - logprobs.max(axis=-1, keepdims=True))
    return shifted[..., 0] / shifted.sum(axis=-1)


def padded_position_ids(attention_mask: torch.Tensor) -> torch.Tensor:
    """Positions that start at 0 on each row's first real token, so a left-padded row is
    computed exactly like the same row unpadded."""
    return (attention_mask.cumsum(dim=-1) - 1).clamp(min=0)


def left_pad(sequences: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(s) for s in sequences)
    input_ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, seq in enumerate(sequences):
        input_ids[row, width - len(seq) :] = torch.tensor(seq, dtype=torch.long)
        attention_mask[row, width - len(seq) :] = 1
    return input_ids, attention_mask


@dataclass
class EncodedItem:
    ids: list[int]
    dropped_tokens: int  # tokens of the item text cut to fit the length limit (0: intact)


@dataclass
class PairScores:
    p_yes: np.ndarray  # [n] P(positive label) renormalised over the labels
    label_logprobs: np.ndarray  # [n, n_labels] full-vocabulary log-probabilities
    prompt_tokens: np.ndarray  # [n] tokens scored per pair
    item_tokens: np.ndarray  # [n] tokens of the item part, after any truncation
    truncated: np.ndarray  # [n] bool: the item text was cut to fit max_length
    labels: tuple[str, ...] = field(default=("Yes", "No"))


class Ranker:
    """A causal LM, its tokenizer and prompt template, scoring (query, item) pairs."""

    def __init__(self, model, tokenizer, template: PromptTemplate | None = None, max_length: int | None = None):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.template = template or PromptTemplate()
        self.label_ids = lookup_label_ids(tokenizer, self.template.labels)
        model_limit = getattr(model.config, "max_position_embeddings", None) or 2048
        self.max_length = min(max_length or model_limit, model_limit)
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        # The template's item wrapper costs these tokens whatever the text.
        self._item_overhead = len(self._tokens(self.template.format_item("")))
        # Tokens the template adds after the item text.
        self.item_suffix_tokens = len(self._tokens(self.template.item.split("{item}", 1)[1]))

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def _tokens(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def encode_query(self, query: str) -> list[int]:
        ids = self._tokens(self.template.format_query(query))
        if len(ids) + self._item_overhead + 1 > self.max_length:
            raise ValueError(f"query of {len(ids)} tokens leaves no room for an item within max_length={self.max_length}")
        return ids

    def encode_item(self, text: str, budget: int, ids: list[int] | None = None, text_encoding=None) -> EncodedItem:
        """The item part's token ids, cutting the item text (never the template's wrapper)
        at a token boundary when the item part would exceed `budget` tokens. `ids`: the
        item part's untruncated ids, and `text_encoding`: the text's own encoding with
        offsets (`ranker.token_budget.text_offsets`), when already known."""
        ids = ids if ids is not None else self._tokens(self.template.format_item(text))
        if len(ids) <= budget:
            return EncodedItem(ids, 0)
        enc = text_encoding if text_encoding is not None else text_offsets(self.tokenizer, text)
        fitted = fit_start(text, enc["offset_mapping"], lambda cut: self._tokens(self.template.format_item(cut)), budget, keep=budget - self._item_overhead)
        if fitted is None:
            raise ValueError(f"item template alone needs more than {budget} tokens")
        return EncodedItem(fitted[1], fitted[2])

    def encode_pairs(self, pairs: list[tuple[str, str]]) -> tuple[list[list[int]], list[EncodedItem]]:
        """Token ids of each pair (query part + item part, or the reverse for an item-first
        template); encodings are cached per text since candidate lists repeat queries and
        items."""
        query_ids = {q: self.encode_query(q) for q in dict.fromkeys(q for q, _ in pairs)}
        unique_items = list(dict.fromkeys(item for _, item in pairs))
        item_ids = dict(zip(unique_items, self.tokenizer([self.template.format_item(t) for t in unique_items], add_special_tokens=False)["input_ids"]))
        truncated: dict[tuple[str, int], EncodedItem] = {}  # an item's cut depends on its query's length
        text_encodings: dict[str, object] = {}  # one offsets encoding per item, whatever its cuts
        sequences, items = [], []
        for query, item in pairs:
            q_ids = query_ids[query]
            budget = self.max_length - len(q_ids)
            if len(item_ids[item]) <= budget:
                encoded = EncodedItem(item_ids[item], 0)
            else:
                if (item, budget) not in truncated:
                    if item not in text_encodings:
                        text_encodings[item] = text_offsets(self.tokenizer, item)
                    truncated[(item, budget)] = self.encode_item(item, budget, item_ids[item], text_encodings[item])
                encoded = truncated[(item, budget)]
            sequences.append(encoded.ids + q_ids if self.template.item_first else q_ids + encoded.ids)
            items.append(encoded)
        return sequences, items

    @torch.inference_mode()
    def score_pairs(self, pairs: list[tuple[str, str]], batch_size: int = 16, progress: bool = False) -> PairScores:
        sequences, items = self.encode_pairs(pairs)
        truncated = np.array([it.dropped_tokens > 0 for it in items], dtype=bool)
        if truncated.any():
            log.warning("%d of %d items were truncated to fit max_length=%d tokens", truncated.sum(), len(items), self.max_length)
        logprobs = np.zeros((len(pairs), len(self.label_ids)), dtype=np.float64)
        # Longest first: batches of similar length waste little on padding.
        order = sorted(range(len(sequences)), key=lambda i: -len(sequences[i]))
        label_ids = torch.tensor(self.label_ids, device=self.device)
        for start in tqdm(range(0, len(order), batch_size), desc="scoring", unit="batch", disable=not progress):
            rows = order[start : start + batch_size]
            input_ids, attention_mask = left_pad([sequences[i] for i in rows], self.pad_id)
            lp = label_logprobs(self.model, input_ids.to(self.device), attention_mask.to(self.device), label_ids)
            logprobs[rows] = lp.double().cpu().numpy()
        return PairScores(
            p_yes=positive_probability(logprobs),
            label_logprobs=logprobs,
            prompt_tokens=np.array([len(s) for s in sequences]),
            item_tokens=np.array([len(it.ids) for it in items]),
            truncated=truncated,
            labels=self.template.labels,
        )


def lookup_label_ids(tokenizer, labels: tuple[str, ...]) -> list[int]:
    ids = []
    for label in labels:
        tokens = tokenizer(label, add_special_tokens=False)["input_ids"]
        if len(tokens) != 1:
            raise ValueError(f"label {label!r} is {len(tokens)} tokens in this tokenizer; each label must be exactly one token")
        ids.append(tokens[0])
    return ids


def resolve_device(device: str | None) -> str:
    """A torch device for a model: "auto" (or None) is cuda when CUDA is visible, else cpu;
    any other device ("cpu", "cuda", "cuda:N") is taken as given, cuda only where CUDA is
    visible."""
    if device in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} asked for, but CUDA is not available in this process")
    return str(device)


def load_ranker(
    path: str | Path,
    device: str | None = None,
    dtype: str = "float32",
    max_length: int | None = None,
    labels: tuple[str, ...] | None = None,
) -> Ranker:
    """Load a causal LM directory (Qwen3, Llama, ...) with its tokenizer and the prompt
    template saved beside it (the default template if none), on `device` (`resolve_device`:
    cpu, cuda, cuda:N, or auto / None = cuda when visible) in `dtype` (float32, bfloat16,
    float16)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got {dtype!r}")
    path = Path(path)
    if not (path / "config.json").exists():
        raise FileNotFoundError(f"{path}: not a model directory (no config.json)")
    device = resolve_device(device)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=DTYPES[dtype], attn_implementation="sdpa").to(device)
    tokenizer = AutoTokenizer.from_pretrained(path)
    template = PromptTemplate.load(path)
    if labels:
        template = dataclasses.replace(template, labels=tuple(labels))
    log.info("loaded ranker %s (%s, %s, %s) labels=%s", path, type(model).__name__, device, dtype, template.labels)
    return Ranker(model, tokenizer, template, max_length=max_length)
