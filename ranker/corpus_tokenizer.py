"""A small byte-level BPE tokenizer trained on a benchmark's own texts, for tiny models.

A tiny model with the real Qwen3 tokenizer spends most of a short step on its 151,936-row
embedding and LM head; a vocabulary of a few thousand pieces fitted to the corpus cuts
that cost and also shortens the sequences. The tokenizer keeps what the code around it
relies on: Qwen3's end-of-turn and padding tokens, its chat template (so a prompt renders
as it would for a real Qwen3 actor), and the ranker's label words as single tokens. It is
saved with the model (`save_pretrained`) and loads with `AutoTokenizer`. Scoring-parity
tests keep the real Qwen3 tokenizer.

`python -m ranker.corpus_tokenizer --data DIR --out DIR [--vocab-size N]` trains one on a
data directory's postings, titles and queries and the ranker's prompt template.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from jobdata import load_dataset, write_directory
from ranker.cli import run_cli
from ranker.template import PromptTemplate
from ranker.tokenizer import load_qwen3_tokenizer

log = logging.getLogger(__name__)

# Qwen3's special tokens that its chat template writes (thinking off included).
CHAT_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>")
# How often each label word is shown to the trainer as its own text, so that BPE learns it
# as one piece whatever the corpus holds.
LABEL_REPEATS = 1000
# Enough for the synthetic corpus: at 8,192 its BPE stops at about 5,800 pieces.
DEFAULT_VOCAB_SIZE = 4096


def train_corpus_tokenizer(texts: Iterable[str], labels: Sequence[str] = ("Yes", "No"), vocab_size: int = DEFAULT_VOCAB_SIZE):
    """A `PreTrainedTokenizerFast` trained on `texts`; raises ValueError if a label word
    did not become a single token."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    qwen3 = load_qwen3_tokenizer()
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(CHAT_TOKENS), initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)

    def corpus() -> Iterator[str]:
        yield from texts
        for label in labels:
            yield from (label for _ in range(LABEL_REPEATS))

    bpe.train_from_iterator(corpus(), trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token=qwen3.eos_token, pad_token=qwen3.pad_token)
    tokenizer.chat_template = qwen3.chat_template
    for label in labels:
        pieces = tokenizer(label, add_special_tokens=False)["input_ids"]
        if len(pieces) != 1:
            raise ValueError(f"label {label!r} became {len(pieces)} tokens in the corpus tokenizer; raise vocab_size (now {vocab_size})")
    return tokenizer


def dataset_texts(data_dir: str | Path, template: PromptTemplate = PromptTemplate()) -> list[str]:
    """What the tiny models read of a data directory: postings, titles, queries and the
    ranker's prompt template."""
    dataset = load_dataset(data_dir)
    items = dataset.items.values()
    return [template.query, template.item, *(item.text for item in items), *(item.title for item in items), *(query.text for query in dataset.queries.values())]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="data directory (items.jsonl, queries.jsonl, qrels.jsonl)")
    parser.add_argument("--out", required=True, help="tokenizer directory to write (loads with AutoTokenizer)")
    parser.add_argument("--vocab-size", type=int, default=DEFAULT_VOCAB_SIZE)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    tokenizer = train_corpus_tokenizer(dataset_texts(args.data), vocab_size=args.vocab_size)
    write_directory(args.out, tokenizer.save_pretrained)
    log.info("wrote a %d-token corpus tokenizer to %s", len(tokenizer), args.out)
    print(args.out)


if __name__ == "__main__":
    run_cli(main, keep_freed=False)
