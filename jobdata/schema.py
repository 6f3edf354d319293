"""The job-search data format: records, loaders and validators of a data directory
(docs/architecture.md).

A data directory holds ``items``, ``queries``, ``qrels`` and optionally ``summaries``,
each as ``<stem>.jsonl`` or ``<stem>.parquet`` with the same columns. Every malformed
input raises :class:`DataError` with a one-line message naming the file, the line
(JSONL, 1-based) or row (Parquet, 1-based) and the field.
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from jobdata.files import write_jsonl

SPLITS = ("train", "val", "test")
MIN_LABEL = 0
MAX_LABEL = 3


class DataError(ValueError):
    """A malformed data file; the message is one line naming file, line and field."""


@dataclass(frozen=True)
class Item:
    item_id: str
    title: str
    text: str


@dataclass(frozen=True)
class Query:
    query_id: str
    text: str
    split: str


@dataclass(frozen=True)
class Qrel:
    query_id: str
    item_id: str
    label: int


@dataclass
class Dataset:
    items: dict[str, Item]
    queries: dict[str, Query]
    qrels: list[Qrel]
    _qrels_by_query: dict[str, list[Qrel]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._qrels_by_query = {}
        for qrel in self.qrels:
            self._qrels_by_query.setdefault(qrel.query_id, []).append(qrel)

    def candidates(self, query_id: str) -> list[Qrel]:
        """The query's qrels rows in file order (its candidates, label 0 included)."""
        return list(self._qrels_by_query.get(query_id, ()))

    def queries_in(self, split: str) -> list[Query]:
        """The queries of one split, in file order."""
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
        return [query for query in self.queries.values() if query.split == split]

    def only_split(self, split: str, max_queries: int | None = None) -> "Dataset":
        """The same items with only the (first `max_queries`) queries of `split` and their
        qrels; an error when the split has no query."""
        chosen = {q.query_id: q for q in self.queries_in(split)[:max_queries]}
        if not chosen:
            raise ValueError(f"the data has no {split!r} queries")
        return Dataset(self.items, chosen, [r for r in self.qrels if r.query_id in chosen])


# --- reading rows -------------------------------------------------------------------


@dataclass(frozen=True)
class _Row:
    where: str  # "path:17" or "path:row 17", the prefix of every message about this row
    values: Mapping[str, Any]


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    return type(value).__name__


def _jsonl_rows(path: Path) -> Iterator[_Row]:
    with open(path, "rb") as handle:
        for line_number, raw in enumerate(handle, start=1):
            where = f"{path}:{line_number}"
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise DataError(f"{where}: not valid UTF-8") from None
            if not line.strip():
                continue
            try:
                values = json.loads(line)
            except json.JSONDecodeError as error:
                raise DataError(f"{where}: invalid JSON ({error.msg})") from None
            if not isinstance(values, dict):
                raise DataError(f"{where}: expected a JSON object, got {_describe(values)}")
            yield _Row(where, values)


def _parquet_rows(path: Path) -> Iterator[_Row]:
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as error:
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise DataError(f"{path}: not a readable Parquet file ({first_line})") from None
    for row_number, values in enumerate(table.to_pylist(), start=1):
        yield _Row(f"{path}:row {row_number}", values)


def _rows(path: str | os.PathLike[str]) -> Iterator[_Row]:
    """The file's rows; raises DataError for a missing or empty file."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    reader = _parquet_rows if path.suffix == ".parquet" else _jsonl_rows
    empty = True
    for row in reader(path):
        empty = False
        yield row
    if empty:
        raise DataError(f"{path}: file is empty")


def _string(row: _Row, name: str) -> str:
    """A required string field, possibly empty."""
    if name not in row.values:
        raise DataError(f"{row.where}: field '{name}': missing")
    value = row.values[name]
    if not isinstance(value, str):
        raise DataError(f"{row.where}: field '{name}': expected a string, got {_describe(value)}")
    return value


def _text(row: _Row, name: str) -> str:
    """A required, non-blank string field."""
    value = _string(row, name)
    if not value.strip():
        raise DataError(f"{row.where}: field '{name}': must not be empty")
    return value


def _label(row: _Row) -> int:
    if "label" not in row.values:
        raise DataError(f"{row.where}: field 'label': missing")
    value = row.values["label"]
    # bool is a subclass of int, but true/false is not a graded label.
    if isinstance(value, bool) or not isinstance(value, int):
        raise DataError(f"{row.where}: field 'label': expected an integer, got {_describe(value)}")
    if not MIN_LABEL <= value <= MAX_LABEL:
        raise DataError(
            f"{row.where}: field 'label': must be between {MIN_LABEL} and {MAX_LABEL}, got {value}"
        )
    return value


def _split(row: _Row) -> str:
    value = _text(row, "split")
    if value not in SPLITS:
        raise DataError(
            f"{row.where}: field 'split': must be one of {', '.join(SPLITS)}, got {value!r}"
        )
    return value


def _check_unique(seen: dict[Any, str], key: Any, row: _Row, name: str, what: str) -> None:
    if key in seen:
        raise DataError(
            f"{row.where}: field '{name}': duplicate {what} {key!r} (first at {seen[key]})"
        )
    seen[key] = row.where


# --- loaders ------------------------------------------------------------------------


def load_items(path: str | os.PathLike[str]) -> dict[str, Item]:
    """Items by item_id, in file order."""
    items: dict[str, Item] = {}
    seen: dict[Any, str] = {}
    for row in _rows(path):
        item = Item(_text(row, "item_id"), _text(row, "title"), _text(row, "text"))
        _check_unique(seen, item.item_id, row, "item_id", "item")
        items[item.item_id] = item
    return items


def load_queries(path: str | os.PathLike[str]) -> dict[str, Query]:
    """Queries by query_id, in file order."""
    queries: dict[str, Query] = {}
    seen: dict[Any, str] = {}
    for row in _rows(path):
        query = Query(_text(row, "query_id"), _text(row, "text"), _split(row))
        _check_unique(seen, query.query_id, row, "query_id", "query")
        queries[query.query_id] = query
    return queries


def _load_qrels_with_rows(path: str | os.PathLike[str]) -> list[tuple[Qrel, _Row]]:
    located: list[tuple[Qrel, _Row]] = []
    seen: dict[Any, str] = {}
    for row in _rows(path):
        qrel = Qrel(_text(row, "query_id"), _text(row, "item_id"), _label(row))
        _check_unique(seen, (qrel.query_id, qrel.item_id), row, "item_id", "pair")
        located.append((qrel, row))
    return located


def load_qrels(path: str | os.PathLike[str]) -> list[Qrel]:
    """Qrels in file order; a (query_id, item_id) pair may appear only once."""
    return [qrel for qrel, _ in _load_qrels_with_rows(path)]


def load_summaries(
    path: str | os.PathLike[str], item_ids: Collection[str] | None = None
) -> dict[str, str]:
    """Summaries by item_id; with ``item_ids``, every summary must name a known item."""
    summaries: dict[str, str] = {}
    seen: dict[Any, str] = {}
    for row in _rows(path):
        item_id = _text(row, "item_id")
        # A model may write nothing; an empty summary is scored as the empty text, as in
        # the RL reward (rewards.summary).
        summary = _string(row, "summary")
        _check_unique(seen, item_id, row, "item_id", "item")
        if item_ids is not None and item_id not in item_ids:
            raise DataError(f"{row.where}: field 'item_id': unknown item {item_id!r}")
        summaries[item_id] = summary
    return summaries


def find_data_file(data_dir: str | os.PathLike[str], stem: str) -> Path | None:
    """``<stem>.jsonl`` or ``<stem>.parquet`` in data_dir, None if neither exists."""
    data_dir = Path(data_dir)
    present = [data_dir / f"{stem}{suffix}" for suffix in (".jsonl", ".parquet")]
    present = [path for path in present if path.exists()]
    if len(present) > 1:
        raise DataError(
            f"{present[0]}: both {present[0].name} and {present[1].name} exist; keep one"
        )
    return present[0] if present else None


def required_data_file(data_dir: str | os.PathLike[str], stem: str) -> Path:
    """Like `find_data_file`, but a missing file is a one-line error."""
    path = find_data_file(data_dir, stem)
    if path is None:
        raise DataError(
            f"{Path(data_dir) / (stem + '.jsonl')}: missing required file "
            f"({stem}.jsonl or {stem}.parquet)"
        )
    return path


def load_dataset(data_dir: str | os.PathLike[str]) -> Dataset:
    """Items, queries and qrels of a data directory, cross-checked against each other."""
    items = load_items(required_data_file(data_dir, "items"))
    queries = load_queries(required_data_file(data_dir, "queries"))
    located_qrels = _load_qrels_with_rows(required_data_file(data_dir, "qrels"))
    for qrel, row in located_qrels:
        if qrel.query_id not in queries:
            raise DataError(f"{row.where}: field 'query_id': unknown query {qrel.query_id!r}")
        if qrel.item_id not in items:
            raise DataError(f"{row.where}: field 'item_id': unknown item {qrel.item_id!r}")
    return Dataset(items, queries, [qrel for qrel, _ in located_qrels])


def write_dataset(data_dir: str | os.PathLike[str], dataset: Dataset) -> None:
    """Write items.jsonl, queries.jsonl and qrels.jsonl into data_dir (created if needed)."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    write_jsonl(data_dir / "items.jsonl", dataset.items.values())
    write_jsonl(data_dir / "queries.jsonl", dataset.queries.values())
    write_jsonl(data_dir / "qrels.jsonl", dataset.qrels)
