"""Data for the ranker and the summarizer: schema, loaders, writers, synthetic generator."""

from rlsum.data.schema import (
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
    write_jsonl,
    write_parquet,
)
from rlsum.data.prepare import load_prepared
from rlsum.data.synth import ItemAttrs, QueryAttrs, generate, relevance, write_synthetic

__all__ = [
    "SPLITS",
    "DataError",
    "Dataset",
    "Item",
    "ItemAttrs",
    "Qrel",
    "Query",
    "QueryAttrs",
    "find_data_file",
    "generate",
    "load_dataset",
    "load_items",
    "load_prepared",
    "load_qrels",
    "load_queries",
    "load_summaries",
    "required_data_file",
    "relevance",
    "write_dataset",
    "write_jsonl",
    "write_parquet",
    "write_synthetic",
]
