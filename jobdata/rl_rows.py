"""The RL training set's row: one item with its queries and the frozen ranker's p_raw, in
verl's parquet layout. `rlsum.data.prepare` writes these rows, verl and the embedded
engine read them, and the reward (`rewards.verl_reward`) parses the two fields it gets
back from verl with `item_task`. This module is the one definition of that contract.

Row schema (`ROW_SCHEMA`)::

    data_source   str                 "rlsum-jobs"
    prompt        list<{role, content}>  the actor's chat messages (verl applies the
                                      actor's chat template itself)
    ability       str                 "summarization"
    reward_model  {style: "ranker", ground_truth: list<float64> p_raw, one per query}
    extra_info    {item_id: str, index: int64 (row number), split: str,
                   queries: list<str> (query texts), labels: list<int64>,
                   l_orig: int64, item_text: str}
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from jobdata.files import write_parquet
from jobdata.schema import DataError

DATA_SOURCE = "rlsum-jobs"
ABILITY = "summarization"
REWARD_STYLE = "ranker"
TRAIN_FILE = "train.parquet"
VAL_FILE = "val.parquet"
SUMMARY_FILE = "prepare_summary.json"

ROW_SCHEMA = pa.schema([
    ("data_source", pa.string()),
    ("prompt", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))),
    ("ability", pa.string()),
    ("reward_model", pa.struct([("style", pa.string()), ("ground_truth", pa.list_(pa.float64()))])),
    ("extra_info", pa.struct([
        ("item_id", pa.string()),
        ("index", pa.int64()),
        ("split", pa.string()),
        ("queries", pa.list_(pa.string())),
        ("labels", pa.list_(pa.int64())),
        ("l_orig", pa.int64()),
        ("item_text", pa.string()),
    ])),
])


@dataclass(frozen=True)
class ItemTask:
    """What the reward needs about one item: its training queries, the ranker's P(Yes) on
    the raw text for each (precomputed once), and the raw text's length in actor tokens."""

    queries: tuple[str, ...]
    p_raw: tuple[float, ...]
    l_orig: int

    def __post_init__(self):
        if not self.queries or len(self.queries) != len(self.p_raw):
            raise ValueError(f"an item needs at least one query and one p_raw per query, got {len(self.queries)} queries and {len(self.p_raw)} p_raw")
        if self.l_orig <= 0:
            raise ValueError(f"l_orig must be > 0 tokens, got {self.l_orig}")


def make_row(
    *, index: int, split: str, item_id: str, item_text: str, prompt: list[dict[str, str]],
    queries: Sequence[str], labels: Sequence[int], p_raw: Sequence[float], l_orig: int,
) -> dict[str, Any]:
    """One row of `ROW_SCHEMA` (``index`` is the row's number in its file)."""
    if len(p_raw) != len(queries):
        raise ValueError(f"item {item_id}: {len(p_raw)} p_raw for {len(queries)} queries")
    return {
        "data_source": DATA_SOURCE,
        "prompt": prompt,
        "ability": ABILITY,
        "reward_model": {"style": REWARD_STYLE, "ground_truth": [float(p) for p in p_raw]},
        "extra_info": {
            "item_id": item_id,
            "index": index,
            "split": split,
            "queries": list(queries),
            "labels": list(labels),
            "l_orig": int(l_orig),
            "item_text": item_text,
        },
    }


def item_task(ground_truth, extra_info: dict) -> ItemTask:
    """The task of one row: p_raw from ``reward_model.ground_truth``, queries and l_orig
    from ``extra_info`` (the two fields verl hands to a reward function)."""
    return ItemTask(queries=tuple(extra_info["queries"]), p_raw=tuple(float(p) for p in ground_truth), l_orig=int(extra_info["l_orig"]))


def row_task(row: dict[str, Any]) -> ItemTask:
    """`item_task` of a whole row as `load_rows` returns it."""
    return item_task(row["reward_model"]["ground_truth"], row["extra_info"])


def write_rows(path: str | Path, rows: Sequence[dict[str, Any]]) -> None:
    """Write rows with `ROW_SCHEMA`, atomically."""
    write_parquet(path, rows, schema=ROW_SCHEMA)


def load_rows(path: str | Path) -> list[dict[str, Any]]:
    """The rows of a written parquet file as plain Python dicts and lists, without verl."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as error:
        raise DataError(f"{path}: not a readable Parquet file ({str(error).splitlines()[0] if str(error) else type(error).__name__})") from None
    expected = ROW_SCHEMA.names
    if table.column_names != expected:
        raise DataError(f"{path}: columns {table.column_names}, expected {expected} (written by `python -m rlsum.data prepare`)")
    return table.to_pylist()
