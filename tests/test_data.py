"""Loaders, validators and atomic writers of the data format (jobdata)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jobdata import (
    DataError,
    Dataset,
    Item,
    Qrel,
    Query,
    load_dataset,
    load_items,
    load_qrels,
    load_summaries,
    numbered_dirs,
    write_dataset,
    write_directory,
    write_jsonl,
    write_parquet,
)

ITEMS = [
    {"item_id": "job-1", "title": "Data Engineer", "text": "Data Engineer\nBuild pipelines."},
    {"item_id": "job-2", "title": "Recruiter", "text": "Recruiter\nHire people."},
    {"item_id": "job-3", "title": "SRE", "text": "SRE\nKeep things up."},
]
QUERIES = [
    {"query_id": "q-1", "text": "data engineer jobs in Seattle", "split": "train"},
    {"query_id": "q-2", "text": "remote recruiter roles", "split": "test"},
]
QRELS = [
    {"query_id": "q-1", "item_id": "job-3", "label": 0},
    {"query_id": "q-1", "item_id": "job-1", "label": 3},
    {"query_id": "q-2", "item_id": "job-2", "label": 2},
]
ROWS = {"items": ITEMS, "queries": QUERIES, "qrels": QRELS}


def _write_valid(data_dir: Path) -> None:
    for stem, rows in ROWS.items():
        write_jsonl(data_dir / f"{stem}.jsonl", rows)


def _raw(path: Path, lines: list[str]) -> None:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def _rows_as_lines(rows: list[dict]) -> list[str]:
    return [json.dumps(row) for row in rows]


def _expected_dataset() -> Dataset:
    return Dataset(
        {row["item_id"]: Item(**row) for row in ITEMS},
        {row["query_id"]: Query(**row) for row in QUERIES},
        [Qrel(**row) for row in QRELS],
    )


# --- round trips --------------------------------------------------------------------


def test_jsonl_round_trip(tmp_path: Path) -> None:
    write_dataset(tmp_path / "data", _expected_dataset())
    dataset = load_dataset(tmp_path / "data")
    assert dataset == _expected_dataset()
    assert [qrel.item_id for qrel in dataset.candidates("q-1")] == ["job-3", "job-1"]
    assert dataset.candidates("q-unknown") == []
    assert [query.query_id for query in dataset.queries_in("test")] == ["q-2"]
    assert dataset.queries_in("val") == []


def test_parquet_round_trip(tmp_path: Path) -> None:
    for stem, rows in ROWS.items():
        write_parquet(tmp_path / f"{stem}.parquet", rows)
    assert load_dataset(tmp_path) == _expected_dataset()


def test_jsonl_and_parquet_can_be_mixed(tmp_path: Path) -> None:
    _write_valid(tmp_path)
    (tmp_path / "items.jsonl").unlink()
    write_parquet(tmp_path / "items.parquet", ITEMS)
    assert load_dataset(tmp_path) == _expected_dataset()


def test_writers_accept_dataclasses(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "qrels.jsonl", [Qrel("q-1", "job-1", 2)])
    assert load_qrels(tmp_path / "qrels.jsonl") == [Qrel("q-1", "job-1", 2)]


def test_unicode_survives(tmp_path: Path) -> None:
    row = {"item_id": "job-é", "title": "Ingénieur", "text": "Zürich — 100 % télétravail ✓"}
    write_jsonl(tmp_path / "items.jsonl", [row])
    assert load_items(tmp_path / "items.jsonl") == {"job-é": Item(**row)}


def test_blank_lines_are_skipped_and_line_numbers_kept(tmp_path: Path) -> None:
    path = tmp_path / "items.jsonl"
    _raw(path, [json.dumps(ITEMS[0]), "", "   ", json.dumps({"item_id": "job-2", "title": "x"})])
    with pytest.raises(DataError, match=r"items\.jsonl:4: field 'text': missing"):
        load_items(path)


def test_summaries(tmp_path: Path) -> None:
    path = tmp_path / "summaries.jsonl"
    write_jsonl(path, [{"item_id": "job-1", "summary": "Data engineer, Seattle, Spark."}])
    assert load_summaries(path) == {"job-1": "Data engineer, Seattle, Spark."}
    assert load_summaries(path, item_ids={"job-1"}) == {"job-1": "Data engineer, Seattle, Spark."}
    expected = r"summaries\.jsonl:1: field 'item_id': unknown item 'job-1'"
    with pytest.raises(DataError, match=expected):
        load_summaries(path, item_ids={"job-2"})


def test_an_empty_summary_is_a_summary_but_a_missing_one_is_an_error(tmp_path: Path) -> None:
    # rlsum.summarize writes what the model wrote, nothing included.
    path = tmp_path / "summaries.jsonl"
    write_jsonl(path, [{"item_id": "job-1", "summary": ""}, {"item_id": "job-2", "summary": None}])
    with pytest.raises(DataError, match=r"summaries\.jsonl:2: field 'summary': expected a string, got null"):
        load_summaries(path)
    write_jsonl(path, [{"item_id": "job-1", "summary": ""}])
    assert load_summaries(path) == {"job-1": ""}


# --- malformed input ----------------------------------------------------------------

# (file to corrupt, its lines, text the one-line message must contain)
MALFORMED = {
    "missing field": (
        "items.jsonl",
        _rows_as_lines(ITEMS[:1]) + ['{"item_id": "job-2", "title": "Recruiter"}'],
        "items.jsonl:2: field 'text': missing",
    ),
    "wrong type": (
        "items.jsonl",
        _rows_as_lines(ITEMS[:2]) + ['{"item_id": "job-3", "title": "SRE", "text": 17}'],
        "items.jsonl:3: field 'text': expected a string, got int",
    ),
    "null value": (
        "queries.jsonl",
        ['{"query_id": "q-1", "text": null, "split": "train"}'],
        "queries.jsonl:1: field 'text': expected a string, got null",
    ),
    "empty id": (
        "items.jsonl",
        ['{"item_id": "", "title": "x", "text": "y"}'],
        "items.jsonl:1: field 'item_id': must not be empty",
    ),
    "blank text": (
        "items.jsonl",
        ['{"item_id": "job-1", "title": "x", "text": "  \\n "}'],
        "items.jsonl:1: field 'text': must not be empty",
    ),
    "unknown item in qrels": (
        "qrels.jsonl",
        _rows_as_lines(QRELS[:2]) + ['{"query_id": "q-2", "item_id": "job-9", "label": 1}'],
        "qrels.jsonl:3: field 'item_id': unknown item 'job-9'",
    ),
    "unknown query in qrels": (
        "qrels.jsonl",
        ['{"query_id": "q-7", "item_id": "job-1", "label": 1}'],
        "qrels.jsonl:1: field 'query_id': unknown query 'q-7'",
    ),
    "empty file": ("items.jsonl", [], "items.jsonl: file is empty"),
    "only blank lines": ("qrels.jsonl", ["", "  "], "qrels.jsonl: file is empty"),
    "bad JSON": (
        "queries.jsonl",
        _rows_as_lines(QUERIES[:1]) + ['{"query_id": "q-2" "text": "x", "split": "val"}'],
        "queries.jsonl:2: invalid JSON (Expecting ',' delimiter)",
    ),
    "not an object": ("queries.jsonl", ['["q-1", "x", "train"]'],
                      "queries.jsonl:1: expected a JSON object, got list"),
    "bad split": (
        "queries.jsonl",
        _rows_as_lines(QUERIES[:1]) + ['{"query_id": "q-2", "text": "x", "split": "dev"}'],
        "queries.jsonl:2: field 'split': must be one of train, val, test, got 'dev'",
    ),
    "label out of range": (
        "qrels.jsonl",
        ['{"query_id": "q-1", "item_id": "job-1", "label": 4}'],
        "qrels.jsonl:1: field 'label': must be between 0 and 3, got 4",
    ),
    "negative label": (
        "qrels.jsonl",
        ['{"query_id": "q-1", "item_id": "job-1", "label": -1}'],
        "qrels.jsonl:1: field 'label': must be between 0 and 3, got -1",
    ),
    "bool label": (
        "qrels.jsonl",
        ['{"query_id": "q-1", "item_id": "job-1", "label": true}'],
        "qrels.jsonl:1: field 'label': expected an integer, got bool",
    ),
    "float label": (
        "qrels.jsonl",
        ['{"query_id": "q-1", "item_id": "job-1", "label": 2.0}'],
        "qrels.jsonl:1: field 'label': expected an integer, got float",
    ),
    "string label": (
        "qrels.jsonl",
        ['{"query_id": "q-1", "item_id": "job-1", "label": "3"}'],
        "qrels.jsonl:1: field 'label': expected an integer, got str",
    ),
    "duplicate item id": (
        "items.jsonl",
        _rows_as_lines(ITEMS) + [json.dumps(ITEMS[0])],
        "items.jsonl:4: field 'item_id': duplicate item 'job-1' (first at ",
    ),
    "duplicate query id": (
        "queries.jsonl",
        _rows_as_lines(QUERIES) + [json.dumps(QUERIES[1])],
        "queries.jsonl:3: field 'query_id': duplicate query 'q-2' (first at ",
    ),
    "duplicate qrel pair": (
        "qrels.jsonl",
        _rows_as_lines(QRELS) + ['{"query_id": "q-1", "item_id": "job-1", "label": 1}'],
        "qrels.jsonl:4: field 'item_id': duplicate pair ('q-1', 'job-1') (first at ",
    ),
}


@pytest.mark.parametrize("case", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_input_names_file_line_and_field(tmp_path: Path, case: tuple) -> None:
    file_name, lines, expected = case
    _write_valid(tmp_path)
    _raw(tmp_path / file_name, lines)
    with pytest.raises(DataError) as raised:
        load_dataset(tmp_path)
    message = str(raised.value)
    assert "\n" not in message
    assert expected in message
    assert message.startswith(str(tmp_path / file_name))


def test_data_error_is_a_value_error() -> None:
    assert issubclass(DataError, ValueError)


def test_invalid_utf8(tmp_path: Path) -> None:
    path = tmp_path / "items.jsonl"
    path.write_bytes(json.dumps(ITEMS[0]).encode() + b"\n" + b'{"item_id": "\xff"}\n')
    with pytest.raises(DataError, match=r"items\.jsonl:2: not valid UTF-8"):
        load_items(path)


def test_missing_required_file(tmp_path: Path) -> None:
    _write_valid(tmp_path)
    (tmp_path / "queries.jsonl").unlink()
    with pytest.raises(DataError, match=r"queries\.jsonl: missing required file"):
        load_dataset(tmp_path)


def test_missing_file_given_directly(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nothing\.jsonl: file not found"):
        load_items(tmp_path / "nothing.jsonl")


def test_jsonl_and_parquet_together_is_an_error(tmp_path: Path) -> None:
    _write_valid(tmp_path)
    write_parquet(tmp_path / "qrels.parquet", QRELS)
    with pytest.raises(DataError, match=r"both qrels\.jsonl and qrels\.parquet exist"):
        load_dataset(tmp_path)


def test_parquet_errors_name_the_row(tmp_path: Path) -> None:
    _write_valid(tmp_path)
    (tmp_path / "items.jsonl").unlink()
    rows = [dict(ITEMS[0]), {"item_id": "job-2", "title": "Recruiter", "text": None}]
    write_parquet(tmp_path / "items.parquet", rows)
    expected = r"items\.parquet:row 2: field 'text': expected a string, got null"
    with pytest.raises(DataError, match=expected):
        load_dataset(tmp_path)


def test_parquet_wrong_column_type(tmp_path: Path) -> None:
    path = tmp_path / "qrels.parquet"
    write_parquet(path, [{"query_id": "q-1", "item_id": "job-1", "label": "high"}])
    expected = r"qrels\.parquet:row 1: field 'label': expected an integer, got str"
    with pytest.raises(DataError, match=expected):
        load_qrels(path)


def test_unreadable_parquet(tmp_path: Path) -> None:
    path = tmp_path / "items.parquet"
    path.write_text("not parquet at all")
    with pytest.raises(DataError, match=r"items\.parquet: not a readable Parquet file") as raised:
        load_items(path)
    assert "\n" not in str(raised.value)


# --- atomic writes ------------------------------------------------------------------


def _failing_rows():
    yield ITEMS[0]
    raise RuntimeError("generator failed halfway")


def test_write_leaves_no_temp_files(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "items.jsonl", ITEMS)
    write_parquet(tmp_path / "items.parquet", ITEMS)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["items.jsonl", "items.parquet"]


@pytest.mark.parametrize("writer", [write_jsonl, write_parquet])
def test_failed_write_keeps_the_old_file(tmp_path: Path, writer) -> None:
    path = tmp_path / "items.out"
    path.write_text("previous contents")
    with pytest.raises(RuntimeError, match="halfway"):
        writer(path, _failing_rows())
    assert path.read_text() == "previous contents"
    assert [p.name for p in tmp_path.iterdir()] == ["items.out"]


def test_unserializable_row_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        write_jsonl(tmp_path / "items.jsonl", [ITEMS[0], {"item_id": object()}])
    assert list(tmp_path.iterdir()) == []


def test_a_directory_appears_whole_or_not_at_all(tmp_path: Path) -> None:
    def build(out: Path) -> None:
        (out / "model.bin").write_text("weights")

    def fail(out: Path) -> None:
        (out / "model.bin").write_text("half")
        raise RuntimeError("killed halfway")

    write_directory(tmp_path / "step-2", build)
    with pytest.raises(RuntimeError, match="halfway"):
        write_directory(tmp_path / "step-2", fail)
    assert (tmp_path / "step-2" / "model.bin").read_text() == "weights"
    assert [p.name for p in tmp_path.iterdir()] == ["step-2"]
    (tmp_path / "step-2.tmp").mkdir()  # what a SIGKILL during a rebuild leaves
    write_directory(tmp_path / "step-2", lambda out: (out / "model.bin").write_text("new"))
    assert (tmp_path / "step-2" / "model.bin").read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["step-2"]


def test_numbered_dirs_sorts_by_number_and_skips_unfinished(tmp_path: Path) -> None:
    for name in ["step-10", "step-9", "step-3.tmp", "step-x", "checkpoint-4"]:
        (tmp_path / name).mkdir()
    (tmp_path / "step-7").write_text("a file, not a checkpoint")
    assert [p.name for p in numbered_dirs(tmp_path, "step-")] == ["step-9", "step-10"]
    assert numbered_dirs(tmp_path / "absent", "step-") == []
