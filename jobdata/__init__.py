"""The job-search data format, at the bottom of the project: records and loaders of a data
directory (`schema`), atomic file writers (`files`), the RL training set's row
(`rl_rows`) and the synthetic dataset generator (`synth`). It imports no other package
of this project."""

from jobdata.files import append_jsonl, numbered_dirs, write_atomically, write_directory, write_json, write_jsonl, write_parquet, write_text
from jobdata.schema import (
    SPLITS,
    DataError,
    Dataset,
    Item,
    Qrel,
    Query,
    find_data_file,
    load_dataset,
    load_items,
    load_qrels,
    load_queries,
    load_summaries,
    required_data_file,
    write_dataset,
)

__all__ = [
    "SPLITS",
    "DataError",
    "Dataset",
    "Item",
    "Qrel",
    "Query",
    "append_jsonl",
    "find_data_file",
    "load_dataset",
    "load_items",
    "load_qrels",
    "load_queries",
    "load_summaries",
    "numbered_dirs",
    "required_data_file",
    "write_atomically",
    "write_dataset",
    "write_directory",
    "write_json",
    "write_jsonl",
    "write_parquet",
    "write_text",
]
