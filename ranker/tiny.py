"""Tiny randomly initialised rankers, for tests and the CPU demo: with the real Qwen3
tokenizer, or with a small corpus tokenizer (ranker/corpus_tokenizer.py).

`python -m ranker.tiny --out DIR [--arch qwen3|llama] [--tokenizer DIR]` writes a
`save_pretrained` model directory (config, weights, tokenizer, prompt template) that loads
like any HF checkpoint.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import torch

from ranker.cli import run_cli
from ranker.template import PromptTemplate
from ranker.tokenizer import load_qwen3_tokenizer, spelling_keys

log = logging.getLogger(__name__)

# Qwen3 checkpoints pad the embedding matrix to 151,936 rows (tokenizer: 151,669 ids).
QWEN3_VOCAB_ROWS = 151936


def token_ids_config(tokenizer) -> dict:
    """The config keys a model takes from its tokenizer: vocabulary rows (Qwen3's padded
    151,936 for the Qwen3 tokenizer, else its length rounded up to a multiple of 64), and
    the end-of-sequence and padding ids."""
    qwen3 = load_qwen3_tokenizer()
    is_qwen3 = len(tokenizer) == len(qwen3) and tokenizer.eos_token_id == qwen3.eos_token_id
    rows = QWEN3_VOCAB_ROWS if is_qwen3 else -(-len(tokenizer) // 64) * 64
    return {"vocab_size": rows, "eos_token_id": tokenizer.eos_token_id, "pad_token_id": tokenizer.pad_token_id}


def tiny_config(arch: str = "qwen3", hidden_size: int = 64, num_layers: int = 3, num_heads: int = 2, intermediate_size: int = 256, max_positions: int = 4096, **extra):
    from transformers import LlamaConfig, Qwen3Config

    common = dict(
        vocab_size=QWEN3_VOCAB_ROWS,
        hidden_size=hidden_size,
        intermediate_size=intermediate_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_heads,
        head_dim=hidden_size // num_heads,
        max_position_embeddings=max_positions,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=151645,
        pad_token_id=151643,
        # HF's default std 0.02 suits widths near 1,000; at width 64 it shrinks every
        # projection's output about sixfold and a from-scratch model barely trains.
        initializer_range=hidden_size**-0.5,
    )
    common.update(extra)
    if arch == "qwen3":
        return Qwen3Config(**common)
    if arch == "llama":
        return LlamaConfig(**common)
    raise ValueError(f"arch must be 'qwen3' or 'llama', got {arch!r}")


def share_spelling_embeddings(model, tokenizer) -> int:
    """Give tokens that spell the same word up to case and surrounding spaces ("Senior",
    " Senior", " senior") the same initial embedding row; returns how many rows changed.

    A pretrained LM already embeds such variants close together. A random one does not, and
    then a title's "Senior" and a query's "senior" look unrelated until training discovers
    the link, which a short CPU run does not manage. Only word-like spellings are shared:
    whitespace, punctuation and byte fragments keep their own rows."""
    vocab = range(min(len(tokenizer), model.get_input_embeddings().weight.shape[0]))
    keys = spelling_keys(tokenizer, vocab)
    changed = {t: k for t, k in keys.items() if t != k}
    wordlike = {t: k for t, k in changed.items() if _is_word(tokenizer.decode([k]))}
    if wordlike:
        rows, sources = torch.tensor(list(wordlike)), torch.tensor(list(wordlike.values()))
        with torch.no_grad():
            weight = model.get_input_embeddings().weight
            weight[rows] = weight[sources]
    return len(wordlike)


def _is_word(spelling: str) -> bool:
    return any(ch.isalnum() for ch in spelling) and "\ufffd" not in spelling


def build_tiny_ranker(out_dir: str | Path, arch: str = "qwen3", seed: int = 0, template: PromptTemplate | None = None, share_spellings: bool = False, tokenizer=None, **config_overrides) -> Path:
    """Write a randomly initialised tiny ranker with `tokenizer` (default: the real Qwen3
    one); `share_spellings` starts case and space variants of a word from one embedding
    (see `share_spelling_embeddings`)."""
    from transformers import AutoModelForCausalLM

    tokenizer = tokenizer or load_qwen3_tokenizer()
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(tiny_config(arch, **{**token_ids_config(tokenizer), **config_overrides}), dtype=torch.float32)
    if share_spellings:
        shared = share_spelling_embeddings(model, tokenizer)
        log.info("%d token embeddings start equal to another spelling of the same word", shared)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    (template or PromptTemplate()).save(out_dir)
    n_params = sum(p.numel() for p in model.parameters())
    log.info("wrote tiny %s ranker (%.1fM parameters) to %s", arch, n_params / 1e6, out_dir)
    return out_dir


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="model directory to write")
    parser.add_argument("--arch", default="qwen3", choices=["qwen3", "llama"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hidden-size", type=int, default=64)
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--heads", type=int, default=2)
    parser.add_argument("--intermediate-size", type=int, default=256)
    parser.add_argument("--item-first", action="store_true", help="save the item-first prompt template (item, then query)")
    parser.add_argument("--share-spellings", action="store_true", help="start case/space variants of a word from one embedding")
    parser.add_argument("--tokenizer", help="a tokenizer directory (python -m ranker.corpus_tokenizer); default: the real Qwen3 tokenizer")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    template = PromptTemplate.item_first_default() if args.item_first else PromptTemplate()
    tokenizer = None
    if args.tokenizer:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(args.tokenizer)
    build_tiny_ranker(args.out, args.arch, args.seed, template, args.share_spellings, tokenizer, hidden_size=args.hidden_size, num_layers=args.layers, num_heads=args.heads, intermediate_size=args.intermediate_size)
    print(args.out)


if __name__ == "__main__":
    run_cli(main)
