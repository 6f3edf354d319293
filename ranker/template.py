"""The ranker's prompt template, split into a query part and an item part.

A pair is scored as tokens(query part) + tokens(item part), each tokenized on its own
without special tokens, and P(label) is read at the last token of the pair. This is
exactly the layout of a multi-item `/v1/score` request (query, then each item), so a
ranker scored in-process and through the server see identical token ids. With
`item_first` the pair is tokens(item part) + tokens(query part), the `/v1/score`
`item_first=true` layout: the query's tokens can then look up whether the posting meets
each of their constraints, which a small model learns far more easily than the reverse.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

TEMPLATE_FILE = "ranker_template.json"


@dataclass(frozen=True)
class PromptTemplate:
    query: str = (
        "Judge whether the job posting matches the job search query. Answer Yes or No.\n"
        "Query: {query}\nJob posting:\n"
    )
    item: str = "{item}\nMatch:\n"
    # Label words, looked up as single tokens in the ranker's tokenizer; the first is the
    # positive label whose probability ranks items.
    labels: tuple[str, ...] = ("Yes", "No")
    item_first: bool = False

    def __post_init__(self):
        if "{query}" not in self.query:
            raise ValueError(f"template 'query' must contain '{{query}}', got {self.query!r}")
        if "{item}" not in self.item:
            raise ValueError(f"template 'item' must contain '{{item}}', got {self.item!r}")
        if len(self.labels) < 2:
            raise ValueError(f"template 'labels' needs a positive and at least one other label, got {self.labels!r}")

    @classmethod
    def item_first_default(cls) -> "PromptTemplate":
        """The default wording, rearranged for the item-first layout."""
        return cls(
            query="Query: {query}\nDoes the job posting match the job search query? Answer Yes or No.\nMatch:\n",
            item="Job posting:\n{item}\n",
            item_first=True,
        )

    def format_query(self, query: str) -> str:
        return self.query.replace("{query}", query)

    def format_item(self, item: str) -> str:
        return self.item.replace("{item}", item)

    def save(self, model_dir: str | Path) -> None:
        data = asdict(self)
        data["labels"] = list(self.labels)
        (Path(model_dir) / TEMPLATE_FILE).write_text(json.dumps(data, indent=2) + "\n")

    @classmethod
    def load(cls, model_dir: str | Path) -> "PromptTemplate":
        """The template saved beside a model, or the default when the model has none."""
        path = Path(model_dir) / TEMPLATE_FILE
        if not path.exists():
            return cls()
        data = json.loads(path.read_text())
        unknown = set(data) - {"query", "item", "labels", "item_first"}
        if unknown:
            raise ValueError(f"{path}: unknown field(s) {sorted(unknown)}")
        if "labels" in data:
            data["labels"] = tuple(data["labels"])
        return cls(**data)
