"""The RL training set in verl's parquet format: one row per item, with p_raw precomputed.

    python -m rlsum.data prepare --data DIR --ranker PATH --actor PATH --out DIR [--max-prompt-tokens N]

Items of a split are the candidates of that split's queries. Each item keeps at most
``queries_per_item`` of the split's queries that list it as a candidate, drawn with a
seeded ``random.Random`` round-robin over label values (highest label first), so every
item sees positives and negatives where it has both and the KL term has something to
preserve. The frozen ranker's P(Yes) for every (query, raw text) pair of the split is
computed once, in one ``score_pairs`` call, and stored as ``reward_model.ground_truth``;
``extra_info.l_orig`` is the raw text's length in actor tokens. `rewards.verl_reward`
reads exactly these fields back (`item_task`).

With ``max_prompt_tokens`` (the trainer's ``data.max_prompt_length``) every ``prompt``
already fits: a posting too long is cut by `rlsum.actor.fit_prompt` (its end goes, the
instruction and chat markers stay), so verl, which would otherwise keep only the *last*
``rollout.prompt_length`` tokens of an over-long prompt, and the embedded engine train on
the same prompt. ``extra_info.item_text`` and ``l_orig`` stay the full posting's (the
reward compares the summary with the raw posting). How many prompts were cut is in
``prepare_summary.json`` (``prompts_cut`` per split).

The row layout is `jobdata.rl_rows` (`ROW_SCHEMA`, `make_row`); `load_rows` reads a
written file back.
"""

from __future__ import annotations

import json
import logging
import random
import statistics
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jobdata.files import write_json
from jobdata.rl_rows import SUMMARY_FILE, TRAIN_FILE, VAL_FILE, make_row, write_rows
from jobdata.schema import SPLITS, DataError, Dataset, Item, load_dataset
from ranker.token_budget import count_tokens
from rlsum.prompts import summarization_messages

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ItemQueries:
    """One item of a split with the queries chosen for it and their labels."""

    item: Item
    query_texts: tuple[str, ...]
    labels: tuple[int, ...]


# --- pure parts ---------------------------------------------------------------------


def select_queries(candidates: Sequence[tuple[str, int]], k: int, rng: random.Random) -> list[tuple[str, int]]:
    """At most k (query, label) pairs: each label's queries shuffled by rng, then taken
    round-robin over labels from the highest down, so labels mix before any repeats."""
    by_label: dict[int, list[tuple[str, int]]] = {}
    for candidate in candidates:
        by_label.setdefault(candidate[1], []).append(candidate)
    labels = sorted(by_label, reverse=True)
    for label in labels:
        rng.shuffle(by_label[label])
    chosen: list[tuple[str, int]] = []
    while len(chosen) < k and any(by_label.values()):
        for label in labels:
            if by_label[label] and len(chosen) < k:
                chosen.append(by_label[label].pop(0))
    return chosen


def split_items(
    dataset: Dataset, split: str, queries_per_item: int, max_items: int | None = None, seed: int = 0
) -> list[ItemQueries]:
    """The split's items (candidates of its queries) sorted by item_id, each with at most
    queries_per_item of its queries. With max_items, a seeded subset of the items.

    Each item draws its queries from its own ``random.Random`` seeded by (seed, split,
    item_id), so an item's queries do not depend on which other items are kept."""
    candidates: dict[str, list[tuple[str, int]]] = {}
    for query in dataset.queries_in(split):
        for qrel in dataset.candidates(query.query_id):
            candidates.setdefault(qrel.item_id, []).append((query.query_id, qrel.label))
    item_ids = sorted(candidates)
    if max_items is not None and max_items < len(item_ids):
        item_ids = sorted(random.Random(seed).sample(item_ids, max_items))
    tasks = []
    for item_id in item_ids:
        rng = random.Random(f"{seed}:{split}:{item_id}")
        chosen = select_queries(candidates[item_id], queries_per_item, rng)
        tasks.append(ItemQueries(
            item=dataset.items[item_id],
            query_texts=tuple(dataset.queries[query_id].text for query_id, _ in chosen),
            labels=tuple(label for _, label in chosen),
        ))
    return tasks


def build_rows(tasks: Sequence[ItemQueries], p_raw: Sequence[Sequence[float]], l_orig: Sequence[int], split: str, prompts: Sequence[list[dict[str, str]]] | None = None) -> list[dict[str, Any]]:
    """The parquet rows of one split, in task order (``extra_info.index`` = row number).
    `prompts`: each row's chat messages (fitted to the prompt budget); None: the whole
    posting's `summarization_messages`."""
    if prompts is None:
        prompts = [summarization_messages(task.item.text) for task in tasks]
    return [
        make_row(index=index, split=split, item_id=task.item.item_id, item_text=task.item.text, prompt=prompt,
                 queries=task.query_texts, labels=task.labels, p_raw=p_item, l_orig=length)
        for index, (task, p_item, length, prompt) in enumerate(zip(tasks, p_raw, l_orig, prompts, strict=True))
    ]


def check_prompt_budget(prepared_dir: str | Path, max_prompt_tokens: int) -> None:
    """Raise when the prepared prompts do not all fit `max_prompt_tokens` (prepared with
    another budget, or none): verl would keep only their last tokens."""
    summary = json.loads((Path(prepared_dir) / SUMMARY_FILE).read_text())
    for split in ("train", "val"):
        longest = (summary.get(split) or {}).get("max_prompt_tokens")
        if longest is not None and longest > max_prompt_tokens:
            raise ValueError(f"{prepared_dir}: {split} prompts of up to {longest} tokens do not fit data.max_prompt_length={max_prompt_tokens}; prepare again with max_prompt_tokens={max_prompt_tokens}")


# --- model-dependent parts ----------------------------------------------------------


def fit_prompts(tokenizer, texts: Sequence[str], max_prompt_tokens: int | None):
    """Each posting's prompt, fitted to `max_prompt_tokens` by `rlsum.actor.fit_prompt`;
    None when the actor's tokenizer has no chat template (then the prompt is the whole
    posting's messages and nothing can be cut or counted)."""
    if not getattr(tokenizer, "chat_template", None):
        if max_prompt_tokens is not None:
            raise ValueError("--max-prompt-tokens needs the actor tokenizer's chat template, and it has none")
        log.warning("the actor tokenizer has no chat template; verl needs one to render the prompt column")
        return None
    from rlsum.actor import fit_prompt

    return [fit_prompt(tokenizer, text, max_prompt_tokens) for text in texts]


def score_raw(ranker, tasks: Sequence[ItemQueries], batch_size: int) -> tuple[list[list[float]], int]:
    """p_raw per item (one per chosen query) from one ``score_pairs`` call over all the
    split's pairs, and how many pairs the ranker truncated to fit its max length."""
    pairs = [(query, task.item.text) for task in tasks for query in task.query_texts]
    log.info("scoring %d (query, raw text) pairs with the ranker", len(pairs))
    scores = ranker.score_pairs(pairs, batch_size=batch_size, progress=True)
    p_yes = scores.p_yes.tolist()
    grouped, start = [], 0
    for task in tasks:
        end = start + len(task.query_texts)
        grouped.append(p_yes[start:end])
        start = end
    return grouped, int(scores.truncated.sum())


def _mean(values: Sequence[float]) -> float | None:
    return statistics.fmean(values) if values else None


def prepare_split(ranker, tokenizer, tasks: Sequence[ItemQueries], split: str, batch_size: int, max_prompt_tokens: int | None = None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The rows of one split and its statistics."""
    texts = [task.item.text for task in tasks]
    l_orig = count_tokens(tokenizer, texts)
    fitted = fit_prompts(tokenizer, texts, max_prompt_tokens)
    prompt_tokens = [len(f.ids) for f in fitted] if fitted is not None else None
    cut = [f.tokens_cut for f in fitted if f.tokens_cut > 0] if fitted is not None else []
    if cut:
        log.info("%s: %d of %d prompts cut to fit %d tokens (the end of the posting; %d posting tokens at most)", split, len(cut), len(texts), max_prompt_tokens, max(cut))
    p_raw, truncated = score_raw(ranker, tasks, batch_size)
    rows = build_rows(tasks, p_raw, l_orig, split, [f.messages for f in fitted] if fitted is not None else None)
    all_p = [p for p_item in p_raw for p in p_item]
    labels = Counter(label for task in tasks for label in task.labels)
    stats = {
        "split": split,
        "items": len(rows),
        "pairs": len(all_p),
        "queries": len({query for task in tasks for query in task.query_texts}),
        "mean_queries_per_item": _mean([len(task.query_texts) for task in tasks]),
        "labels": {str(label): labels[label] for label in sorted(labels)},
        "mean_l_orig": _mean(l_orig),
        "max_l_orig": max(l_orig, default=None),
        "mean_p_raw": _mean(all_p),
        "truncated_pairs": truncated,
        "max_prompt_tokens": max(prompt_tokens, default=None) if prompt_tokens is not None else None,
        "mean_prompt_tokens": _mean(prompt_tokens) if prompt_tokens is not None else None,
        "prompt_budget": max_prompt_tokens,
        "prompts_cut": len(cut),
        "mean_posting_tokens_cut": _mean(cut),
    }
    return rows, stats


# --- the command --------------------------------------------------------------------


def check_arguments(
    data: str | Path,
    ranker: str | Path,
    actor: str | Path,
    out: str | Path,
    train_split: str,
    val_split: str,
    queries_per_item: int,
    max_items: int | None,
    max_val_items: int | None,
    ranker_max_length: int | None,
    batch_size: int,
    max_prompt_tokens: int | None = None,
) -> None:
    """Every check that needs no model, so bad input fails before any heavy work."""
    if queries_per_item < 1:
        raise ValueError(f"--queries-per-item must be >= 1, got {queries_per_item}")
    for name, value in (("--max-items", max_items), ("--max-val-items", max_val_items), ("--ranker-max-length", ranker_max_length), ("--max-prompt-tokens", max_prompt_tokens)):
        if value is not None and value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
    if batch_size < 1:
        raise ValueError(f"--batch-size must be >= 1, got {batch_size}")
    for name, split in (("--train-split", train_split), ("--val-split", val_split)):
        if split not in SPLITS:
            raise ValueError(f"{name} must be one of {', '.join(SPLITS)}, got {split!r}")
    if train_split == val_split:
        raise ValueError(f"--train-split and --val-split are both {train_split!r}; the validation rows must come from other queries")
    if not Path(data).is_dir():
        raise FileNotFoundError(f"--data {data}: data directory not found")
    if not (Path(ranker) / "config.json").is_file():
        raise FileNotFoundError(f"--ranker {ranker}: not a model directory (no config.json)")
    if not Path(actor).is_dir():
        raise FileNotFoundError(f"--actor {actor}: not a model or tokenizer directory")
    if Path(out).exists() and not Path(out).is_dir():
        raise ValueError(f"--out {out}: exists and is not a directory")


def prepare(
    data: str | Path,
    ranker: str | Path,
    actor: str | Path,
    out: str | Path,
    train_split: str = "train",
    val_split: str = "val",
    queries_per_item: int = 4,
    max_items: int | None = None,
    max_val_items: int | None = None,
    ranker_max_length: int | None = None,
    batch_size: int = 32,
    seed: int = 0,
    device: str | None = None,
    max_prompt_tokens: int | None = None,
) -> dict[str, Any]:
    """Write OUT/train.parquet, OUT/val.parquet (when the val split has queries) and
    OUT/prepare_summary.json; return the summary. `max_prompt_tokens` (the trainer's
    `data.max_prompt_length`): every prompt is fitted to it by `rlsum.actor.fit_prompt`;
    None writes whole postings."""
    arguments = {
        "data": str(data), "ranker": str(ranker), "actor": str(actor), "out": str(out),
        "train_split": train_split, "val_split": val_split, "queries_per_item": queries_per_item,
        "max_items": max_items, "max_val_items": max_val_items, "ranker_max_length": ranker_max_length,
        "batch_size": batch_size, "seed": seed, "device": device, "max_prompt_tokens": max_prompt_tokens,
    }
    check_arguments(data, ranker, actor, out, train_split, val_split, queries_per_item, max_items, max_val_items, ranker_max_length, batch_size, max_prompt_tokens)
    started = time.perf_counter()
    log.info("loading dataset %s", data)
    dataset = load_dataset(data)
    if not dataset.queries_in(train_split):
        raise ValueError(f"--data {data}: no queries in the {train_split!r} split")
    splits = {train_split: split_items(dataset, train_split, queries_per_item, max_items, seed)}
    if not splits[train_split]:
        raise ValueError(f"--data {data}: the {train_split!r} queries have no candidates")
    if dataset.queries_in(val_split):
        splits[val_split] = split_items(dataset, val_split, queries_per_item, max_val_items, seed)
    else:
        log.info("no queries in the %r split: no %s", val_split, VAL_FILE)
    for split, tasks in splits.items():
        log.info("%s: %d items, %d (query, item) pairs", split, len(tasks), sum(len(t.query_texts) for t in tasks))

    from transformers import AutoTokenizer

    from ranker.scoring import load_ranker

    log.info("loading the actor tokenizer from %s", actor)
    tokenizer = AutoTokenizer.from_pretrained(str(actor))
    if max_prompt_tokens is not None:
        fit_prompts(tokenizer, [""], max_prompt_tokens)  # the instruction alone must fit: fail before the ranker loads
    model = load_ranker(ranker, device=device, max_length=ranker_max_length)

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = {train_split: out / TRAIN_FILE, val_split: out / VAL_FILE}
    stats = {}
    for split, tasks in splits.items():
        rows, stats[split] = prepare_split(model, tokenizer, tasks, split, batch_size, max_prompt_tokens)
        write_rows(files[split], rows)
        log.info("wrote %d rows to %s", len(rows), files[split])
    if val_split not in splits and files[val_split].exists():
        log.info("removing %s left by an earlier run", files[val_split])
        files[val_split].unlink()

    summary = {
        "train": stats[train_split],
        "val": stats.get(val_split),
        "files": {"train": str(files[train_split]), "val": str(files[val_split]) if val_split in splits else None},
        "ranker": str(ranker),
        "actor": str(actor),
        "ranker_max_length": model.max_length,
        "max_prompt_tokens": max_prompt_tokens,
        "arguments": arguments,
    }

    write_json(out / SUMMARY_FILE, summary)
    log.info("prepared %s in %.1f s", out, time.perf_counter() - started)
    return summary
