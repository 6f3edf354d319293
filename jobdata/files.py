"""Writing files so that a reader never sees half of one: every writer here goes through
a temp file (or directory) beside the target and an atomic rename; `append_jsonl` adds
whole lines."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq


def as_dict(row: Mapping[str, Any] | Any) -> Mapping[str, Any]:
    """A mapping or a dataclass instance as a mapping."""
    if dataclasses.is_dataclass(row) and not isinstance(row, type):
        return dataclasses.asdict(row)
    return row


def write_atomically(path: str | os.PathLike[str], write: Callable[[str], None]) -> None:
    """Call ``write(temp_path)`` on a temp file beside ``path``, then move it into place.

    The temp file lives in the same directory so ``os.replace`` is an atomic rename;
    on any failure it is removed and an existing ``path`` is left untouched.
    """
    path = Path(path)
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    try:
        write(temp_name)
        with open(temp_name, "rb") as written:
            os.fsync(written.fileno())
        os.chmod(temp_name, 0o644)  # mkstemp creates 0600; make it an ordinary file
        os.replace(temp_name, path)
    except BaseException:
        os.unlink(temp_name)
        raise


def write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write a text file (UTF-8), atomically."""

    def write(temp_name: str) -> None:
        Path(temp_name).write_text(text, encoding="utf-8")

    write_atomically(path, write)


def write_json(path: str | os.PathLike[str], value: Any, indent: int | None = 2) -> None:
    """Write one JSON document, atomically."""
    write_text(path, json.dumps(value, indent=indent) + "\n")


def write_jsonl(path: str | os.PathLike[str], rows: Iterable[Mapping[str, Any] | Any]) -> None:
    """Write rows (mappings or dataclass instances) as JSONL, atomically."""

    def write(temp_name: str) -> None:
        with open(temp_name, "w", encoding="utf-8") as out:
            for row in rows:
                out.write(json.dumps(as_dict(row), ensure_ascii=False) + "\n")

    write_atomically(path, write)


def append_jsonl(path: str | os.PathLike[str], rows: Iterable[Mapping[str, Any] | Any]) -> None:
    """Append rows as JSONL lines in one write: a crash leaves at most a torn last line,
    which the readers of these logs skip."""
    text = "".join(json.dumps(as_dict(row), ensure_ascii=False) + "\n" for row in rows)
    with open(path, "a", encoding="utf-8") as out:
        out.write(text)


def write_parquet(
    path: str | os.PathLike[str],
    rows: Iterable[Mapping[str, Any] | Any],
    schema: pa.Schema | None = None,
) -> None:
    """Write rows (mappings or dataclass instances) as one Parquet table, atomically.

    Column types are inferred from the rows unless ``schema`` fixes them.
    """

    def write(temp_name: str) -> None:
        table = pa.Table.from_pylist([dict(as_dict(row)) for row in rows], schema=schema)
        pq.write_table(table, temp_name)

    write_atomically(path, write)


def write_directory(path: str | os.PathLike[str], build: Callable[[Path], None]) -> Path:
    """Call ``build(temp_dir)`` on an empty ``<path>.tmp``, then rename it to ``path``.

    A build that fails is removed and an existing ``path`` kept; one that is killed leaves
    only the ``.tmp`` directory, which the next call clears and which `numbered_dirs` does
    not list: a directory at ``path`` is always complete. An existing ``path`` is replaced.
    """
    path = Path(path)
    temp = path.with_name(path.name + ".tmp")
    shutil.rmtree(temp, ignore_errors=True)
    temp.mkdir(parents=True)
    try:
        build(temp)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    shutil.rmtree(path, ignore_errors=True)
    os.replace(temp, path)
    return path


def numbered_dirs(parent: str | os.PathLike[str], prefix: str) -> list[Path]:
    """The directories ``parent/<prefix>N`` (N a whole number), sorted by N.

    Names with anything after N (``step-3.tmp``, a half-written `write_directory`) are
    not listed, so a resume never picks an unfinished checkpoint.
    """
    found = [p for p in Path(parent).glob(f"{prefix}*") if p.is_dir() and p.name[len(prefix):].isdigit()]
    return sorted(found, key=lambda p: int(p.name[len(prefix):]))
