"""The `/v1/score` wire format (SGLang-compatible, DESIGN.md "Scoring HTTP API"): request,
response and error models, the messages for malformed requests, and `tokenize_request`,
which turns a validated request into the `TokenizedRequest` the engine scores.

Shape errors (types, nulls, text mixed with token ids) are caught by the request model;
errors that need the model (vocabulary range, length limits) by `tokenize_request`. Both end as
a 400 whose message names the offending field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, field_validator, model_validator
from pydantic_core import PydanticCustomError

from serving.plan import TokenizedRequest

TEXT_OR_IDS = "a string or a list of token ids (integers)"


def _is_token_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)  # JSON true is not a token


def _check_text_or_ids(value: Any, name: str) -> None:
    if isinstance(value, str):
        return
    if not isinstance(value, list):
        raise PydanticCustomError("text_or_ids", "{name} must be {expected}, got {got}", {"name": name, "expected": TEXT_OR_IDS, "got": type(value).__name__})
    for index, token in enumerate(value):
        if not _is_token_id(token):
            raise PydanticCustomError("token_id", "{name}[{index}] must be a token id (an integer), got {got}", {"name": name, "index": index, "got": repr(token)})


class ScoreRequest(BaseModel):
    """`POST /v1/score`: the probability of each label token right after query + item
    (item + query with `item_first`), for every item."""

    model_config = ConfigDict(extra="forbid")

    query: str | list[StrictInt] = Field(description="Query text, or its token ids.")
    items: str | list[str] | list[list[StrictInt]] = Field(description="One item text, a list of item texts, or a list of token-id lists (same kind as the query). [] scores nothing.")
    label_token_ids: list[StrictInt] = Field(min_length=1, description="Token ids whose probabilities are returned, in this order.")
    apply_softmax: StrictBool = Field(False, description="Softmax over the label logits only (rows sum to 1) instead of each label's full-vocabulary probability.")
    item_first: StrictBool = Field(False, description="Score item + query instead of query + item.")
    model: str | None = Field(None, description="Accepted for OpenAI/SGLang clients; the server scores with its one loaded model, named in the response.")

    @field_validator("query", mode="before")
    @classmethod
    def _query_shape(cls, value):
        _check_text_or_ids(value, "query")
        return value

    @field_validator("items", mode="before")
    @classmethod
    def _items_shape(cls, value):
        if value is None:
            raise PydanticCustomError("items_null", "items must not be null (send [] to score no items)")
        if isinstance(value, str):
            return value
        if not isinstance(value, list):
            raise PydanticCustomError("items_type", "items must be a string, a list of strings or a list of token-id lists, got {got}", {"got": type(value).__name__})
        if value and all(_is_token_id(v) for v in value):
            raise PydanticCustomError("items_flat", "items is a flat list of integers; send a tokenized item as a list inside the list: [[...]]")
        for index, item in enumerate(value):
            _check_text_or_ids(item, f"items[{index}]")
        if len({isinstance(item, str) for item in value}) > 1:
            raise PydanticCustomError("items_mixed", "items mixes texts and token-id lists; send all items as text or all as token ids")
        return value

    @model_validator(mode="after")
    def _same_input_kind(self):
        query_is_text = isinstance(self.query, str)
        items_are_text = isinstance(self.items, str) or (bool(self.items) and isinstance(self.items[0], str))
        if self.items and items_are_text != query_is_text:
            kinds = ("text", "token ids") if query_is_text else ("token ids", "text")
            raise PydanticCustomError("mixed_inputs", "mixed inputs: query is {query} but items are {items}; send both as text or both as token ids", {"query": kinds[0], "items": kinds[1]})
        return self

    def item_list(self) -> list[str] | list[list[int]]:
        """The items as a list (a single string is one item)."""
        return [self.items] if isinstance(self.items, str) else self.items


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int = 0
    total_tokens: int


class ScoreResponse(BaseModel):
    scores: list[list[float]] = Field(description="Per item, the probability of each label id in request order.")
    model: str
    usage: Usage
    object: Literal["scoring"] = "scoring"


class ErrorResponse(BaseModel):
    object: Literal["error"] = "error"
    message: str
    type: str
    code: int


class RequestError(ValueError):
    """A request the model cannot score as sent (message names the problem): a 400."""


@dataclass(frozen=True)
class Limits:
    vocab_size: int  # token ids (labels included) must be < this
    max_pair_tokens: int  # query + one item
    max_request_tokens: int  # `prompt_tokens` of the whole request


def prompt_tokens(request: TokenizedRequest) -> int:
    """Usage `prompt_tokens`: query + item tokens summed over the items, i.e. what scoring
    each pair on its own would read (SGLang's count). Multi-item scoring computes the query
    once per packed sequence, so the engine runs fewer tokens than this."""
    return sum(len(request.query) + len(item) for item in request.items)


def _check_vocabulary(ids: list[int], name: str, vocab_size: int) -> None:
    if ids and (min(ids) < 0 or max(ids) >= vocab_size):
        index = next(i for i, token in enumerate(ids) if not 0 <= token < vocab_size)
        raise RequestError(f"{name}[{index}] = {ids[index]} is outside the vocabulary (0..{vocab_size - 1})")


def tokenize_request(request: ScoreRequest, tokenizer, limits: Limits) -> TokenizedRequest:
    """Token ids of a validated request, checked against the model's vocabulary and the
    length limits. Texts are tokenized one by one without special tokens, so a pair's ids
    are exactly tokens(query) + tokens(item)."""
    _check_vocabulary(request.label_token_ids, "label_token_ids", limits.vocab_size)
    items = request.item_list()
    if isinstance(request.query, str):
        texts = [request.query, *items]
        query, *item_ids = tokenizer(texts, add_special_tokens=False)["input_ids"]
    else:
        query, item_ids = request.query, items
        _check_vocabulary(query, "query", limits.vocab_size)
        for index, ids in enumerate(item_ids):
            _check_vocabulary(ids, f"items[{index}]", limits.vocab_size)
    for index, ids in enumerate(item_ids):
        if not ids:
            raise RequestError(f"items[{index}] is empty")
        if len(query) + len(ids) > limits.max_pair_tokens:
            raise RequestError(f"items[{index}]: query ({len(query)} tokens) + item ({len(ids)} tokens) = {len(query) + len(ids)} tokens, over the limit of {limits.max_pair_tokens} tokens per pair")
    tokenized = TokenizedRequest(query=list(query), items=[list(ids) for ids in item_ids], label_ids=list(request.label_token_ids), apply_softmax=request.apply_softmax, item_first=request.item_first)
    total = prompt_tokens(tokenized)
    if total > limits.max_request_tokens:
        raise RequestError(f"request has {total} prompt tokens (query + item, summed over {len(tokenized.items)} items), over the limit of {limits.max_request_tokens}; split it into smaller requests")
    return tokenized


def describe_validation_errors(errors: list[dict]) -> str:
    """One line naming each problem pydantic/FastAPI found in a request body."""
    lines = []
    for error in errors:
        field = _field_name(error.get("loc", ()))
        kind = error.get("type", "")
        if kind == "json_invalid":
            lines.append(f"request body is not valid JSON: {error.get('ctx', {}).get('error', error.get('msg'))}")
        elif field == "request body":
            lines.append(f"request body must be a JSON object (Content-Type: application/json) with the ScoreRequest fields ({error.get('msg')})")
        elif kind == "missing":
            lines.append(f"{field} is required")
        elif kind == "extra_forbidden":
            lines.append(f"unknown field '{field}'")
        elif kind.startswith(("text_or_ids", "token_id", "items_", "mixed_inputs")):
            lines.append(error["msg"])  # our own messages already name the field
        else:
            lines.append(f"{field}: {error.get('msg')}")
    return "; ".join(dict.fromkeys(lines))


def _field_name(loc) -> str:
    """("body", "label_token_ids", 0) -> "label_token_ids[0]"."""
    name = ""
    for part in loc:
        if part == "body" and not name:
            continue
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or "request body"
