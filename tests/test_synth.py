"""The synthetic job-search dataset: determinism, shape, labels, realism and length."""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from jobdata import load_dataset

from jobdata.synth import ItemAttrs, QueryAttrs, generate, relevance, write_synthetic
from jobdata import synth_vocab as vocab
from jobdata.synth import FAMILY_BY_KEY

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def default_data():
    """The default dataset (seed 0, 2000 items, 1500 queries), generated once."""
    return generate(0)


def _mentions(text: str, skill: str) -> bool:
    """Whether the skill appears as a whole phrase (not inside a longer word)."""
    return re.search(rf"(?<!\w){re.escape(skill)}(?!\w)", text, re.IGNORECASE) is not None


def _lines(text: str, prefix: str | tuple[str, ...]) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(prefix)]


# --- determinism and the CLI --------------------------------------------------------


def test_same_seed_same_bytes_different_seed_different(tmp_path: Path) -> None:
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        write_synthetic(tmp_path / name, seed=seed, n_items=120, n_queries=20)
    for file_name in ("items.jsonl", "queries.jsonl", "qrels.jsonl"):
        a, b, c = ((tmp_path / name / file_name).read_bytes() for name in "abc")
        assert a == b
        assert a != c


def test_cli_writes_loadable_data(tmp_path: Path) -> None:
    out = tmp_path / "synth"
    completed = subprocess.run(
        [sys.executable, "-m", "rlsum.data", "synth", "--out", str(out), "--seed", "0",
         "--items", "300", "--queries", "60"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=True,
        # A hash seed unlike this process's: output must not depend on set or dict hashing.
        env={**os.environ, "PYTHONHASHSEED": "12345"},
    )
    dataset = load_dataset(out)  # also checks ids, references and duplicate pairs
    assert len(dataset.items) == 300
    assert len(dataset.queries) == 60
    assert "items=300 queries=60" in completed.stdout
    assert "labels " in completed.stdout
    assert "generating 300 items" in completed.stderr
    written = sorted(path.name for path in out.iterdir())
    assert written == ["items.jsonl", "qrels.jsonl", "queries.jsonl"]
    write_synthetic(tmp_path / "in_process", seed=0, n_items=300, n_queries=60)
    for name in written:
        assert (out / name).read_bytes() == (tmp_path / "in_process" / name).read_bytes()


def test_cli_rejects_too_few_items(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "rlsum.data", "synth", "--out", str(tmp_path), "--items", "10"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
    )
    assert completed.returncode != 0
    assert "n_items must be at least" in completed.stderr


def test_generate_rejects_bad_sizes() -> None:
    with pytest.raises(ValueError, match="n_items"):
        generate(0, n_items=49, n_queries=10)
    with pytest.raises(ValueError, match="n_queries"):
        generate(0, n_items=100, n_queries=0)


# --- shape of the data --------------------------------------------------------------


def test_candidates_per_query(default_data) -> None:
    items, queries, qrels, _, _ = default_data
    item_ids = {item.item_id for item in items}
    by_query = Counter(qrel.query_id for qrel in qrels)
    assert set(by_query) == {query.query_id for query in queries}
    assert all(20 <= count <= 50 for count in by_query.values())
    assert all(qrel.item_id in item_ids for qrel in qrels)
    pairs = [(qrel.query_id, qrel.item_id) for qrel in qrels]
    assert len(pairs) == len(set(pairs))


def test_labels_are_relevance_of_hidden_attributes(default_data) -> None:
    _, _, qrels, item_attrs, query_attrs = default_data
    for qrel in qrels:
        assert qrel.label == relevance(query_attrs[qrel.query_id], item_attrs[qrel.item_id])


def test_label_mix(default_data) -> None:
    _, queries, qrels, _, _ = default_data
    labels = Counter(qrel.label for qrel in qrels)
    assert all(labels[label] >= 0.05 * len(qrels) for label in range(4)), labels
    assert labels[0] > labels[3]
    best = {}
    for qrel in qrels:
        best[qrel.query_id] = max(best.get(qrel.query_id, 0), qrel.label)
    with_perfect_match = sum(label == 3 for label in best.values())
    assert 0.75 * len(queries) <= with_perfect_match < len(queries)


def test_splits_are_disjoint_and_complete(default_data) -> None:
    _, queries, _, _, _ = default_data
    splits = Counter(query.split for query in queries)
    assert splits == {"train": 1050, "val": 225, "test": 225}
    assert len({query.query_id for query in queries}) == len(queries)


def test_vocabulary_is_large_enough(default_data) -> None:
    _, _, _, item_attrs, _ = default_data
    assert len(vocab.FAMILIES) >= 20
    assert len({family.cluster for family in vocab.FAMILIES}) == 6
    for family in vocab.FAMILIES:
        assert 2 <= len(family.titles) <= 4
        assert len(family.skills) >= 8
        assert len(set(family.skills)) == len(family.skills)
    assert sum(city.country == "US" for city in vocab.CITIES) >= 30
    assert len({attrs.company for attrs in item_attrs.values()}) >= 80
    family_skills = {skill for family in vocab.FAMILIES for skill in family.skills}
    assert not family_skills & set(vocab.GENERIC_TECH_SKILLS + vocab.GENERIC_BUSINESS_SKILLS)


def test_families_are_balanced(default_data) -> None:
    _, _, _, item_attrs, _ = default_data
    per_family = Counter(attrs.family for attrs in item_attrs.values())
    assert len(per_family) == len(vocab.FAMILIES)
    assert max(per_family.values()) - min(per_family.values()) <= 1


# --- relevance ----------------------------------------------------------------------

SEATTLE_DE = ItemAttrs("data_engineer", "senior", "Seattle, WA", "hybrid", ("Spark", "SQL"), "Acme")


@pytest.mark.parametrize(
    ("query", "item", "label"),
    [
        (QueryAttrs("data_engineer"), SEATTLE_DE, 3),
        (QueryAttrs("data_engineer", "Seattle, WA", False, "senior", "Spark"), SEATTLE_DE, 3),
        (QueryAttrs("data_engineer", city="Austin, TX", seniority="senior"), SEATTLE_DE, 2),
        (QueryAttrs("data_engineer", remote=True, skill="Kafka"), SEATTLE_DE, 1),
        (QueryAttrs("data_engineer", remote=True, seniority="mid", skill="Kafka"), SEATTLE_DE, 1),
        (QueryAttrs("data_scientist", city="Seattle, WA"), SEATTLE_DE, 1),
        (QueryAttrs("data_scientist", skill="Kafka"), SEATTLE_DE, 0),
        (QueryAttrs("recruiter"), SEATTLE_DE, 0),
    ],
)
def test_relevance_examples(query: QueryAttrs, item: ItemAttrs, label: int) -> None:
    assert relevance(query, item) == label


def test_remote_item_fails_a_city_constraint() -> None:
    remote = ItemAttrs("sre", "mid", "Denver, CO", "remote", ("Linux",), "Acme")
    assert relevance(QueryAttrs("sre", city="Denver, CO"), remote) == 2
    assert relevance(QueryAttrs("sre", remote=True), remote) == 3


# --- what the postings say ----------------------------------------------------------

SALARY_LINE = re.compile(
    r"^(Salary range|Base salary range|Pay range|Compensation range): \D{1,3}\d{1,3}(,\d{3})+",
    re.MULTILINE,
)


def test_posting_sections(default_data) -> None:
    items, _, _, item_attrs, _ = default_data
    for item in items[:300]:
        attrs = item_attrs[item.item_id]
        text = item.text
        assert text.splitlines()[0] == item.title
        (location,) = _lines(text, "Location: ")
        if attrs.remote_policy == "remote":
            assert location.startswith("Location: Remote")
        else:
            assert attrs.city in location
        assert SALARY_LINE.search(text), item.item_id
        assert "benefits" in text.lower()
        assert "equal opportunity employer" in text.lower()
        for skill in attrs.skills:
            assert _mentions(text, skill), (item.item_id, skill)


def test_postings_do_not_repeat_verbatim(default_data) -> None:
    items, _, _, _, _ = default_data
    assert len({item.text for item in items}) == len(items)
    assert len({item.title for item in items}) >= 100


def test_skill_mentions_match_hidden_skills(default_data) -> None:
    """A posting names a skill of its family's pool only if the posting has that skill."""
    items, _, _, item_attrs, _ = default_data
    for item in items:
        attrs = item_attrs[item.item_id]
        mentioned = {s for s in FAMILY_BY_KEY[attrs.family].skills if _mentions(item.text, s)}
        assert mentioned <= set(attrs.skills), (item.item_id, mentioned - set(attrs.skills))


def test_perfect_matches_state_what_the_query_asks(default_data) -> None:
    items, _, qrels, item_attrs, query_attrs = default_data
    texts = {item.item_id: item.text for item in items}
    checked = Counter()
    for qrel in qrels:
        if qrel.label != 3:
            continue
        query, text = query_attrs[qrel.query_id], texts[qrel.item_id]
        (location,) = _lines(text, "Location: ")
        if query.city is not None:
            assert query.city in location
            checked["city"] += 1
        if query.remote:
            assert location.startswith("Location: Remote")
            checked["remote"] += 1
        if query.seniority is not None:
            level = vocab.LEVEL_LABELS[query.seniority]
            if query.seniority == "staff" and not FAMILY_BY_KEY[query.family].technical:
                level = "Lead"
            level_lines = _lines(text, ("Level:", "Seniority:", "Career level:"))
            assert any(level in line for line in level_lines)
            checked["seniority"] += 1
        if query.skill is not None:
            assert _mentions(text, query.skill)
            checked["skill"] += 1
    assert min(checked.values()) >= 20, checked


def test_queries_read_naturally(default_data) -> None:
    _, queries, _, _, query_attrs = default_data
    texts = [query.text for query in queries]
    assert len(set(texts)) >= 0.9 * len(texts)
    for query in queries:
        attrs = query_attrs[query.query_id]
        assert query.text == query.text.strip() and "  " not in query.text
        if attrs.city is not None:
            assert attrs.city.split(",")[0] in query.text
        if attrs.skill is not None:
            assert attrs.skill.lower() in query.text.lower()
    constraint_counts = Counter(
        (a.city is not None or a.remote) + (a.seniority is not None) + (a.skill is not None)
        for a in query_attrs.values()
    )
    assert set(constraint_counts) == {0, 1, 2, 3}


# --- length in real Qwen3 tokens ----------------------------------------------------


def test_token_lengths(default_data) -> None:
    from ranker.tokenizer import load_qwen3_tokenizer

    tokenizer = load_qwen3_tokenizer()
    texts = [item.text for item in default_data[0][:300]]
    lengths = [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]
    assert min(lengths) >= 250
    assert max(lengths) <= 2600
    assert 650 <= statistics.median(lengths) <= 950
    assert max(lengths) >= 1500  # the distribution is wide, not clustered at the median


def test_compact_postings_keep_the_structure_at_a_third_of_the_length(default_data) -> None:
    """The compact shape: whole postings a CPU model can read, with title and level on top,
    the skills in the requirements, the location in the details and other offices (decoy
    cities) before it; the reference summary is at most a tenth of a posting."""
    from jobdata.synth import reference_summary
    from ranker.tokenizer import load_qwen3_tokenizer

    tokenizer = load_qwen3_tokenizer()
    items, _, _, item_attrs, _ = generate(0, n_items=300, n_queries=20, shape="compact")
    lengths = [len(ids) for ids in tokenizer([item.text for item in items], add_special_tokens=False)["input_ids"]]
    assert min(lengths) >= 250 and max(lengths) <= 520
    assert 290 <= statistics.median(lengths) <= 370
    realistic_chars = sum(len(item.text) for item in default_data[0][:300])
    assert sum(len(item.text) for item in items) < realistic_chars / 2
    summaries = [reference_summary(item, item_attrs[item.item_id]) for item in items]
    summary_lengths = [len(ids) for ids in tokenizer(summaries, add_special_tokens=False)["input_ids"]]
    with_decoys = 0
    for item, length, summary_length in zip(items, lengths, summary_lengths):
        attrs = item_attrs[item.item_id]
        text = item.text
        assert text.startswith(item.title + "\n")
        assert all(_mentions(text, skill) for skill in attrs.skills)
        details = text.rindex(attrs.city if attrs.remote_policy != "remote" else "emote")
        assert details > len(text) // 3  # where the job is comes late, in the details
        with_decoys += any(city.name in text[:details] for city in vocab.CITIES if city.label != attrs.city)
        assert summary_length <= 0.1 * length
    assert with_decoys >= 0.9 * len(items)


def test_cli_writes_a_compact_benchmark_with_reference_summaries(tmp_path: Path) -> None:
    out = tmp_path / "compact"
    completed = subprocess.run(
        [sys.executable, "-m", "rlsum.data", "synth", "--out", str(out), "--items", "400", "--queries", "12", "--shape", "compact", "--item-splits", "--reference-summaries"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=True,
    )
    assert "generating 400 items (compact postings)" in completed.stderr
    write_synthetic(tmp_path / "in_process", seed=0, n_items=400, n_queries=12, reference_summaries=True, shape="compact", item_splits=True)
    for name in ("items.jsonl", "queries.jsonl", "qrels.jsonl", "reference_summaries.jsonl"):
        assert (out / name).read_bytes() == (tmp_path / "in_process" / name).read_bytes()


def test_an_unknown_shape_is_named() -> None:
    with pytest.raises(ValueError, match="shape must be one of realistic, compact, got 'short'"):
        generate(0, n_items=60, n_queries=2, shape="short")


def test_split_postings_are_candidates_of_their_own_split_only() -> None:
    items, queries, qrels, item_attrs, query_attrs = generate(0, n_items=600, n_queries=300, shape="compact", item_splits=True)
    split_of_query = {query.query_id: query.split for query in queries}
    splits_of_item: dict[str, set[str]] = {}
    for qrel in qrels:
        splits_of_item.setdefault(qrel.item_id, set()).add(split_of_query[qrel.query_id])
        assert qrel.label == relevance(query_attrs[qrel.query_id], item_attrs[qrel.item_id])
    assert all(len(splits) == 1 for splits in splits_of_item.values())
    postings_per_split = Counter(next(iter(splits)) for splits in splits_of_item.values())
    assert postings_per_split == Counter(train=420, val=90, test=90)  # every posting is drawn on
    # Test queries still find perfect matches among their own split's postings.
    assert sum(qrel.label == 3 for qrel in qrels if split_of_query[qrel.query_id] == "test") >= 45


def test_too_few_postings_to_split_are_named() -> None:
    with pytest.raises(ValueError, match="the val split has 45 postings, fewer than the 50 candidates a query may list; raise n_items"):
        generate(0, n_items=300, n_queries=20, item_splits=True)
