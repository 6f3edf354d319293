"""Synthetic job-search dataset: realistic postings, natural queries, graded labels.

Every posting and query is generated from hidden attributes (:class:`ItemAttrs`,
:class:`QueryAttrs`), and every label is :func:`relevance` of those attributes, so the
data has a known ground truth while reading like real job search data. The only sources
of randomness are ``random.Random(seed)`` and, for split postings, one more stream seeded
from it, so a seed always yields the same bytes.
"""

from __future__ import annotations

import math
import os
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from jobdata import synth_vocab as vocab
from jobdata.files import write_jsonl
from jobdata.schema import Dataset, Item, Qrel, Query, write_dataset
from jobdata.synth_vocab import City, Family, Industry

DEFAULT_ITEMS = 2000
DEFAULT_QUERIES = 1500
MIN_CANDIDATES = 20
MAX_CANDIDATES = 50
SAME_FAMILY_SHARE = 0.30  # of a query's candidates; these carry the 3/2/1 labels
RELATED_FAMILY_SHARE = 0.25  # same cluster, other family: label 1 or 0
QUERY_FROM_ITEM_SHARE = 0.85  # queries whose constraints copy an existing posting
SPLIT_SHARES = (("train", 0.70), ("val", 0.15))  # test gets the rest
N_COMPANIES = 120
REMOTE_POLICIES = ("onsite", "hybrid", "remote")
REMOTE_POLICY_WEIGHTS = (0.30, 0.45, 0.25)
CHARS_PER_TOKEN = 4.87  # measured on these postings with the Qwen3 tokenizer

FAMILY_BY_KEY = {family.key: family for family in vocab.FAMILIES}
CITY_BY_LABEL = {city.label: city for city in vocab.CITIES}

T = TypeVar("T")


@dataclass(frozen=True)
class PostingShape:
    """How long postings are. The sections and their order never change; a shorter shape
    starts the always-present lists with fewer bullets and grows them less."""

    median_tokens: float  # length target in Qwen3 tokens: log-normal, clipped
    sigma: float
    min_tokens: float
    max_tokens: float
    responsibilities: int  # bullets the responsibilities start with
    benefits: int  # bullets the benefits start with


SHAPES = {
    # Postings as long as real ones: median about 800 Qwen3 tokens, up to about 2,400.
    "realistic": PostingShape(790, 0.5, 300, 2400, responsibilities=5, benefits=4),
    # The same sections, shorter lists (median about 330 tokens, at most about 500): a
    # benchmark whose ranker and summarizer read whole postings on a CPU.
    "compact": PostingShape(290, 0.15, 250, 420, responsibilities=3, benefits=2),
}


@dataclass(frozen=True)
class ItemAttrs:
    """What a posting is really about; the label function reads only these."""

    family: str  # a Family.key
    seniority: str  # one of synth_vocab.LEVELS
    city: str  # "Seattle, WA"; for remote postings the hub it is attached to
    remote_policy: str  # onsite | hybrid | remote
    skills: tuple[str, ...]
    company: str


@dataclass(frozen=True)
class QueryAttrs:
    """What a searcher wants: always a family, optionally a few constraints."""

    family: str
    city: str | None = None  # never set together with remote
    remote: bool = False
    seniority: str | None = None
    skill: str | None = None


def relevance(query: QueryAttrs, item: ItemAttrs) -> int:
    """Graded label 0..3 of an item for a query, from hidden attributes only.

    k counts the query's constraints the item fails: a city (the item is in that city
    and not fully remote), remote (the item is fully remote), a seniority (equal level),
    a skill (among the item's skills). Same family: 3 if k == 0, 2 if k == 1, else 1.
    A related family (same cluster): 1 if k == 0, else 0. Any other family: 0.
    """
    failed = 0
    if query.city is not None and (item.city != query.city or item.remote_policy == "remote"):
        failed += 1
    if query.remote and item.remote_policy != "remote":
        failed += 1
    if query.seniority is not None and item.seniority != query.seniority:
        failed += 1
    if query.skill is not None and query.skill not in item.skills:
        failed += 1
    if item.family == query.family:
        return 3 if failed == 0 else 2 if failed == 1 else 1
    if FAMILY_BY_KEY[item.family].cluster == FAMILY_BY_KEY[query.family].cluster:
        return 1 if failed == 0 else 0
    return 0


# --- small helpers ------------------------------------------------------------------


def _shuffled(rng: random.Random, values: Sequence[T]) -> list[T]:
    return rng.sample(list(values), len(values))


def _weighted_sample(rng: random.Random, cities: Sequence[City], k: int) -> list[City]:
    """k distinct cities, drawn by weight."""
    remaining = list(cities)
    chosen: list[City] = []
    for _ in range(min(k, len(remaining))):
        city = rng.choices(remaining, [c.weight for c in remaining])[0]
        remaining.remove(city)
        chosen.append(city)
    return chosen


def _with_article(phrase: str) -> str:
    """'a Data Engineer', 'an Applied Scientist', 'an SRE', 'a UX Designer'."""
    first = phrase.split()[0]
    if len(first) > 1 and first[:2].isupper():  # an acronym is read letter by letter
        vowel_sound = first[0] in "AEFHILMNORSX"
    else:
        vowel_sound = first[0].lower() in "aeiou"
    return f"{'an' if vowel_sound else 'a'} {phrase}"


def _join(words: Sequence[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} and {words[-1]}"


# --- companies ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Company:
    name: str
    industry: Industry
    product: str
    customers: str
    mission: str
    founded: int
    employees: str
    funding: str
    offices: tuple[City, ...]


def _make_companies(rng: random.Random, count: int) -> list[_Company]:
    us_cities = [city for city in vocab.CITIES if city.country == "US"]
    international = [city for city in vocab.CITIES if city.country != "US"]
    companies: list[_Company] = []
    names: set[str] = set()  # membership only; never iterated
    while len(companies) < count:
        industry = rng.choice(vocab.INDUSTRIES)
        name = f"{rng.choice(vocab.COMPANY_NAME_PARTS)} {rng.choice(industry.name_suffixes)}"
        if name in names:
            continue
        names.add(name)
        offices = _weighted_sample(rng, us_cities, rng.randint(4, 7))
        if rng.random() < 0.3:
            offices += _weighted_sample(rng, international, rng.randint(1, 2))
        investors = rng.sample(vocab.INVESTORS, 2)
        funding = rng.choice(vocab.FUNDING).format(
            investors=_join(investors), investor=investors[0], series=rng.choice("BCDE")
        )
        companies.append(
            _Company(
                name=name,
                industry=industry,
                product=rng.choice(industry.products),
                customers=rng.choice(industry.customers),
                mission=rng.choice(industry.missions),
                founded=rng.randint(1998, 2021),
                employees=f"more than {rng.choice((80, 150, 300, 600, 1200, 2500, 6000, 15000)):,}",
                funding=funding,
                offices=tuple(offices),
            )
        )
    return companies


# --- posting text -------------------------------------------------------------------


class _Section:
    """A titled part of a posting that can grow one unit (sentence or bullet) at a time."""

    def __init__(
        self,
        header: str,
        style: str,  # paragraph | bullets | numbered | lines
        units: Sequence[str],
        spare: Sequence[str] = (),
        max_units: int | None = None,
        tail: Sequence[str] = (),
        optional: bool = False,
        bullet: str = "- ",
    ) -> None:
        self.header = header
        self.style = style
        self.units = list(units)
        self.spare = list(spare)
        self.max_units = max_units if max_units is not None else len(units) + len(spare)
        self.tail = list(tail)
        self.included = not optional
        self.bullet = bullet

    def can_grow(self) -> bool:
        return not self.included or (bool(self.spare) and len(self.units) < self.max_units)

    def grow(self) -> int:
        """Include the section, or else add its next unit; returns the characters added."""
        if not self.included:
            self.included = True
            return len(self.render()) + 2
        unit = self.spare.pop(0)
        self.units.append(unit)
        return len(unit) + len(self.bullet) + 1

    def render(self) -> str:
        units = self.units + self.tail
        if self.style == "paragraph":
            paragraphs = [" ".join(units[start:start + 3]) for start in range(0, len(units), 3)]
            body = "\n\n".join(paragraphs)
        elif self.style == "bullets":
            body = "\n".join(self.bullet + unit for unit in units)
        elif self.style == "numbered":
            body = "\n".join(f"{number}. {unit}" for number, unit in enumerate(units, start=1))
        else:
            body = "\n".join(units)
        return f"{self.header}\n{body}"


def _target_tokens(rng: random.Random, shape: PostingShape) -> float:
    target = rng.lognormvariate(math.log(shape.median_tokens), shape.sigma)
    return min(max(target, shape.min_tokens), shape.max_tokens)


def _skill_bullets(
    rng: random.Random, skills: Sequence[str], templates: Sequence[str]
) -> list[str]:
    """Bullets naming every skill once, one or two skills per bullet."""
    bullets = []
    start = 0
    while start < len(skills):
        size = rng.choice((1, 2))
        bullets.append(rng.choice(templates).format(skills=_join(skills[start:start + size])))
        start += size
    return bullets


def _salary_line(rng: random.Random, family: Family, level: str, city: City) -> str:
    symbol, rate = vocab.CURRENCIES[city.country]
    base = family.base_salary * vocab.SALARY_MULTIPLIERS[level] * rate
    base *= 1.1 if city.high_cost else 0.95
    low = round(base * rng.uniform(0.85, 0.93), -3)
    high = round(base * rng.uniform(1.12, 1.30), -3)
    return rng.choice(vocab.SALARY_LINES).format(
        low=f"{symbol}{int(low):,}", high=f"{symbol}{int(high):,}"
    )


def _details_lines(
    rng: random.Random, family: Family, attrs: ItemAttrs, city: City
) -> list[str]:
    if attrs.remote_policy == "onsite":
        location = rng.choice(vocab.ONSITE_LOCATIONS).format(city=city.label)
    elif attrs.remote_policy == "hybrid":
        location = rng.choice(vocab.HYBRID_LOCATIONS).format(
            city=city.label, days=rng.randint(2, 4)
        )
    else:
        location = rng.choice(vocab.REMOTE_LOCATIONS).format(
            region=vocab.REMOTE_REGIONS[city.country], city=city.label
        )
    label = vocab.LEVEL_LABELS[attrs.seniority]
    if attrs.seniority == "staff" and not family.technical:
        label = "Lead"
    level_line = rng.choice(vocab.LEVEL_LINES).format(
        label=label, code=vocab.LEVEL_CODES[attrs.seniority]
    )
    return [
        location,
        rng.choice(vocab.EMPLOYMENT_TYPES),
        level_line,
        _salary_line(rng, family, attrs.seniority, city),
    ]


def _collaborators(rng: random.Random, family: Family) -> list[str]:
    """Two other families' plurals, usually from the same cluster: lexical distractors."""
    related = [f.plural for f in vocab.FAMILIES if f.cluster == family.cluster and f is not family]
    anyone = [f.plural for f in vocab.FAMILIES if f is not family]
    first = rng.choice(related if rng.random() < 0.6 else anyone)
    second = rng.choice([plural for plural in anyone if plural != first])
    return [first, second]


def _posting_text(
    rng: random.Random,
    title: str,
    family: Family,
    attrs: ItemAttrs,
    company: _Company,
    city: City,
    shape: PostingShape,
) -> str:
    """The full posting: sections in a fixed order, grown at random to a target length."""
    other, other2 = _collaborators(rng, family)
    other_offices = [office.name for office in company.offices if office is not city]
    team = rng.choice(vocab.TEAMS.get(family.key) or vocab.TEAMS[family.cluster])
    family_skills = [skill for skill in attrs.skills if skill in family.skills]
    n_required = math.ceil(len(family_skills) * 0.6)
    generic_skills = [skill for skill in attrs.skills if skill not in family.skills]
    required_skills = family_skills[:n_required] + generic_skills
    preferred_skills = family_skills[n_required:]
    slots = {
        "company": company.name,
        "industry": company.industry.label,
        "a_industry": _with_article(company.industry.label),
        "product": company.product,
        "customers": company.customers,
        "mission": company.mission,
        "founded": company.founded,
        "employees": company.employees,
        "funding": company.funding,
        "volume": company.industry.volume,
        "customer_count": f"{rng.choice((500, 1000, 2000, 5000, 10000)):,}",
        "growth": rng.choice((30, 40, 60, 80, 100, 150)),
        "countries": rng.choice((20, 40, 60, 100)),
        "hq": company.offices[0].label,
        "offices": _join(rng.sample(other_offices, min(len(other_offices), rng.randint(2, 5)))),
        "a_title": _with_article(title),
        "team": team,
        "goal": rng.choice(vocab.ROLE_GOALS[family.cluster]),
        "manager": rng.choice(vocab.MANAGERS).format(team=team),
        "team_size": rng.choice(("four", "five", "six", "eight", "ten", "a dozen")),
        "plural": family.plural,
        "other": other,
        "other2": other2,
        "background": rng.choice(vocab.BACKGROUNDS),
        "field": family.field,
        "premium": rng.choice((80, 90, 100)),
        "match": rng.choice((3, 4, 5, 6)),
        "pto": rng.choice((15, 18, 20, 25)),
        "minutes": rng.choice((20, 30, 45)),
        "rounds": rng.choice(("three", "four", "five")),
        "exercise": rng.choice(
            vocab.TECH_EXERCISES if family.technical else vocab.BUSINESS_EXERCISES
        ),
    }

    def fill(template: str) -> str:
        return template.format(**slots)

    def fill_all(templates: Sequence[str]) -> list[str]:
        return [fill(template) for template in _shuffled(rng, templates)]

    def header(key: str) -> str:
        return fill(rng.choice(vocab.HEADERS[key]))

    bullet = rng.choice(("- ", "• ", "* "))

    responsibilities = list(family.responsibilities)
    responsibilities += rng.sample(vocab.COLLABORATION, 2)
    responsibilities += (
        vocab.TECH_RESPONSIBILITIES if family.technical else vocab.BUSINESS_RESPONSIBILITIES
    )
    if attrs.seniority in ("senior", "staff", "principal"):
        responsibilities += vocab.SENIOR_RESPONSIBILITIES
    if attrs.seniority == "entry":
        responsibilities += vocab.ENTRY_RESPONSIBILITIES
    responsibilities = fill_all(responsibilities)

    if attrs.seniority == "entry":
        years = fill(rng.choice(vocab.ENTRY_YEARS_REQUIRED))
    else:
        slots["years"] = rng.choice(vocab.LEVEL_YEARS[attrs.seniority])
        years = fill(rng.choice(vocab.YEARS_REQUIRED))
    required = [years] + _skill_bullets(rng, required_skills, vocab.SKILL_REQUIRED)
    required_more = list(vocab.REQUIRED_MORE)
    if family.technical:
        required_more += vocab.TECH_REQUIRED_MORE
    if attrs.seniority in ("senior", "staff", "principal"):
        required_more += vocab.SENIOR_REQUIRED_MORE
    required_more = fill_all(required_more)
    preferred = _skill_bullets(rng, preferred_skills, vocab.SKILL_PREFERRED)
    preferred_more = fill_all(
        vocab.PREFERRED_MORE + (vocab.TECH_PREFERRED_MORE if family.technical else ())
    )
    preferred_minimum = max(0, 2 - len(preferred))
    values = _shuffled(rng, vocab.VALUES)
    team_sentences = fill_all(vocab.TEAM_MORE)
    why = fill_all(vocab.WHY_JOIN)
    growth = fill_all(vocab.GROWTH)
    workplace = fill_all(vocab.WORKPLACE)
    benefits = fill_all(vocab.BENEFITS)

    sections = [
        _Section(
            header("about"), "paragraph",
            units=[fill(rng.choice(vocab.ABOUT_LEADS)), fill(rng.choice(vocab.MISSIONS))],
            spare=fill_all(vocab.ABOUT_MORE),
            tail=[fill(rng.choice(vocab.OFFICES))],
        ),
        _Section(header("values"), "bullets", values[:3], values[3:], max_units=8,
                 optional=True, bullet=bullet),
        _Section(header("role"), "paragraph", [fill(rng.choice(vocab.ROLE_LEADS))],
                 fill_all(vocab.ROLE_MORE)),
        _Section(header("team"), "paragraph", team_sentences[:2], team_sentences[2:],
                 optional=True),
        _Section(header("responsibilities"), "bullets", responsibilities[:shape.responsibilities],
                 responsibilities[shape.responsibilities:], max_units=12, bullet=bullet),
        # Milestones are chronological, so they are not shuffled.
        _Section(header("success"), "bullets", vocab.SUCCESS_MILESTONES[:3],
                 vocab.SUCCESS_MILESTONES[3:], optional=True, bullet=bullet),
    ]
    if family.technical:
        stack_lead = rng.choice(vocab.STACK_LEADS).format(skills=_join(list(attrs.skills)))
        stack_more = _shuffled(rng, vocab.STACK_MORE)
        sections.append(
            _Section(header("stack"), "paragraph", [stack_lead, stack_more[0]], stack_more[1:],
                     optional=True)
        )
    sections += [
        _Section(header("required"), "bullets", required + required_more[:1], required_more[1:],
                 max_units=len(required) + 6, bullet=bullet),
        _Section(header("preferred"), "bullets", preferred + preferred_more[:preferred_minimum],
                 preferred_more[preferred_minimum:], max_units=len(preferred) + 5, bullet=bullet),
        _Section(header("why"), "bullets", why[:3], why[3:], optional=True, bullet=bullet),
        _Section(header("growth"), "paragraph", growth[:2], growth[2:], optional=True),
        _Section(header("workplace"), "paragraph", workplace[:2], workplace[2:], optional=True),
        _Section(header("details"), "lines", _details_lines(rng, family, attrs, city)),
        _Section(header("benefits"), "bullets", benefits[:shape.benefits], benefits[shape.benefits:],
                 bullet=bullet),
        _Section(header("interview"), "numbered", [fill(step) for step in vocab.INTERVIEW_STEPS],
                 optional=True),
        _Section(header("eeo"), "paragraph", [fill(rng.choice(vocab.EEO_LEADS))],
                 fill_all(vocab.EEO_MORE)),
    ]

    target_chars = _target_tokens(rng, shape) * CHARS_PER_TOKEN
    length = len(title) + sum(len(s.render()) + 2 for s in sections if s.included)
    while length < target_chars:
        growable = [section for section in sections if section.can_grow()]
        if not growable:
            break
        length += rng.choice(growable).grow()
    return "\n\n".join([title] + [s.render() for s in sections if s.included])


# --- items, queries, candidates -----------------------------------------------------


def _make_item(
    rng: random.Random, item_id: str, family: Family, companies: Sequence[_Company], shape: PostingShape
) -> tuple[Item, ItemAttrs]:
    level = rng.choices(family.levels, [vocab.LEVEL_WEIGHTS[lv] for lv in family.levels])[0]
    if level == "staff" and not family.technical:
        prefixes = vocab.BUSINESS_STAFF_PREFIXES
    else:
        prefixes = vocab.TITLE_PREFIXES[level]
    title = f"{rng.choice(prefixes)} {rng.choice(family.titles)}".strip()
    company = rng.choice(companies)
    city = rng.choice(company.offices)
    generic = vocab.GENERIC_TECH_SKILLS if family.technical else vocab.GENERIC_BUSINESS_SKILLS
    skills = rng.sample(family.skills, rng.randint(3, 6)) + rng.sample(generic, rng.randint(0, 2))
    attrs = ItemAttrs(
        family=family.key,
        seniority=level,
        city=city.label,
        remote_policy=rng.choices(REMOTE_POLICIES, REMOTE_POLICY_WEIGHTS)[0],
        skills=tuple(skills),
        company=company.name,
    )
    text = _posting_text(rng, title, family, attrs, company, city, shape)
    return Item(item_id, title, text), attrs


def _make_query_attrs(
    rng: random.Random, family: Family, family_items: Sequence[tuple[str, ItemAttrs]]
) -> tuple[QueryAttrs, str | None]:
    """The query's attributes and the posting they were copied from (None if invented)."""
    if family_items and rng.random() < QUERY_FROM_ITEM_SHARE:
        base_id, base = rng.choice(family_items)
        city, remote = None, False
        if rng.random() < 0.55:
            if base.remote_policy == "remote":
                remote = True
            else:
                city = base.city
        seniority = base.seniority if rng.random() < 0.5 else None
        base_skills = [skill for skill in base.skills if skill in family.skills]
        skill = rng.choice(base_skills) if rng.random() < 0.45 else None
        return QueryAttrs(family.key, city, remote, seniority, skill), base_id
    city, remote = None, False
    if rng.random() < 0.55:
        if rng.random() < 0.25:
            remote = True
        else:
            city = rng.choices(vocab.CITIES, [c.weight for c in vocab.CITIES])[0].label
    seniority = rng.choice(family.levels) if rng.random() < 0.5 else None
    skill = rng.choice(family.skills) if rng.random() < 0.45 else None
    return QueryAttrs(family.key, city, remote, seniority, skill), None


def _query_text(rng: random.Random, attrs: QueryAttrs) -> str:
    family = FAMILY_BY_KEY[attrs.family]
    name = rng.choice(family.query_names)
    noun = rng.choice(vocab.QUERY_JOB_NOUNS)
    prefix = rng.choice(vocab.QUERY_PREFIXES)
    level = rng.choice(vocab.QUERY_LEVEL_WORDS[attrs.seniority]) if attrs.seniority else ""
    skill = ""
    if attrs.skill is not None:
        skill = attrs.skill.lower() if rng.random() < 0.5 else attrs.skill
    remote_first = attrs.remote and rng.random() < 0.6
    place = ""
    if attrs.city is not None:
        city = CITY_BY_LABEL[attrs.city]
        place = rng.choice(vocab.QUERY_CITY_PHRASES).format(city=city.name, label=city.label)
    elif attrs.remote and not remote_first:
        place = rng.choice(vocab.QUERY_REMOTE_SUFFIXES)
    head = f"{'remote ' if remote_first else ''}{level} "
    shape = rng.randrange(3)
    if shape == 1 and skill:  # "spark data engineer jobs in Austin"
        text = f"{prefix}{head}{skill} {name} {noun} {place}"
    elif shape == 2 and skill:  # "principal SRE openings, kubernetes experience"
        text = f"{prefix}{head}{name} {noun} {place}, {skill} experience"
    else:  # "remote senior data engineer roles using spark"
        skill_phrase = rng.choice(vocab.QUERY_SKILL_PHRASES).format(skill=skill) if skill else ""
        tail = _shuffled(rng, [place, skill_phrase])
        text = f"{prefix}{head}{name} {noun} {' '.join(tail)}"
    return " ".join(text.replace(" ,", ",").split())


def _candidates(
    rng: random.Random,
    base_id: str | None,
    same_family: Sequence[str],
    related_family: Sequence[str],
    all_ids: Sequence[str],
) -> list[str]:
    """20..50 distinct item ids: the base posting, same-family, related and random ones."""
    count = rng.randint(MIN_CANDIDATES, MAX_CANDIDATES)
    chosen: list[str] = []
    taken: set[str] = set()  # membership only; the order lives in `chosen`

    def take(ids: Sequence[str]) -> None:
        for item_id in ids:
            if item_id not in taken and len(chosen) < count:
                taken.add(item_id)
                chosen.append(item_id)

    if base_id is not None:
        take([base_id])
    take(rng.sample(same_family, min(len(same_family), round(count * SAME_FAMILY_SHARE))))
    take(rng.sample(related_family, min(len(related_family), round(count * RELATED_FAMILY_SHARE))))
    while len(chosen) < count:
        take([all_ids[rng.randrange(len(all_ids))]])
    rng.shuffle(chosen)  # the file order must not reveal the labels
    return chosen


def _splits(rng: random.Random, count: int) -> list[str]:
    """A split name per index (of a query, or of a posting): 70% train, 15% val, 15% test,
    shuffled."""
    names: list[str] = []
    for split, share in SPLIT_SHARES:
        names += [split] * round(count * share)
    names += ["test"] * (count - len(names))
    rng.shuffle(names)
    return names


class _ItemPool:
    """Posting ids to draw candidates from: all of them and those of each family."""

    def __init__(self) -> None:
        self.all_ids: list[str] = []
        self.by_family: dict[str, list[str]] = {family.key: [] for family in vocab.FAMILIES}

    def add(self, item_id: str, family: str) -> None:
        self.all_ids.append(item_id)
        self.by_family[family].append(item_id)


def generate(
    seed: int = 0, n_items: int = DEFAULT_ITEMS, n_queries: int = DEFAULT_QUERIES, shape: str = "realistic", item_splits: bool = False
) -> tuple[list[Item], list[Query], list[Qrel], dict[str, ItemAttrs], dict[str, QueryAttrs]]:
    """Items, queries, qrels and the hidden attributes behind them, determined by seed;
    `shape` names the postings' length (SHAPES). With `item_splits` the postings are split
    too, in the queries' shares, and a query's candidates come from its own split's
    postings only: a summarizer trained on the train split's postings never saw a test
    posting (without it, nearly every posting is a candidate of some query of each split)."""
    if shape not in SHAPES:
        raise ValueError(f"shape must be one of {', '.join(SHAPES)}, got {shape!r}")
    if n_items < MAX_CANDIDATES:
        raise ValueError(f"n_items must be at least {MAX_CANDIDATES}, got {n_items}")
    if n_queries < 1:
        raise ValueError(f"n_queries must be at least 1, got {n_queries}")
    rng = random.Random(seed)
    companies = _make_companies(rng, N_COMPANIES)

    # Families round-robin, then shuffled: every family gets about n_items / 25 postings.
    item_families = [vocab.FAMILIES[i % len(vocab.FAMILIES)] for i in range(n_items)]
    rng.shuffle(item_families)
    items: list[Item] = []
    item_attrs: dict[str, ItemAttrs] = {}
    for index, family in enumerate(item_families, start=1):
        item, attrs = _make_item(rng, f"job-{index:05d}", family, companies, SHAPES[shape])
        items.append(item)
        item_attrs[item.item_id] = attrs

    # The pools candidates are drawn from: one for all postings, or one per split.
    item_split = _splits(random.Random(f"{seed}:item-splits"), n_items) if item_splits else ["all"] * n_items
    pools = {name: _ItemPool() for name in dict.fromkeys(item_split)}
    for item, split in zip(items, item_split):
        pools[split].add(item.item_id, item_attrs[item.item_id].family)
    for name, pool in pools.items():
        if len(pool.all_ids) < MAX_CANDIDATES:
            raise ValueError(f"the {name} split has {len(pool.all_ids)} postings, fewer than the {MAX_CANDIDATES} candidates a query may list; raise n_items (now {n_items})")

    query_families = [vocab.FAMILIES[i % len(vocab.FAMILIES)] for i in range(n_queries)]
    rng.shuffle(query_families)
    splits = _splits(rng, n_queries)
    queries: list[Query] = []
    qrels: list[Qrel] = []
    query_attrs: dict[str, QueryAttrs] = {}
    for index, family in enumerate(query_families):
        query_id = f"q-{index + 1:04d}"
        pool = pools[splits[index] if item_splits else "all"]
        same_family = pool.by_family[family.key]
        attrs, base_id = _make_query_attrs(
            rng, family, [(item_id, item_attrs[item_id]) for item_id in same_family]
        )
        related_family = [
            item_id
            for other in vocab.FAMILIES
            if other.cluster == family.cluster and other is not family
            for item_id in pool.by_family[other.key]
        ]
        query_attrs[query_id] = attrs
        queries.append(Query(query_id, _query_text(rng, attrs), splits[index]))
        for item_id in _candidates(rng, base_id, same_family, related_family, pool.all_ids):
            qrels.append(Qrel(query_id, item_id, relevance(attrs, item_attrs[item_id])))
    return items, queries, qrels, item_attrs, query_attrs


def reference_summary(item: Item, attrs: ItemAttrs) -> str:
    """A short summary keeping exactly what the labels depend on: the title (family and
    level), where the job is, and the first skills. Warm-starts a summarizer by SFT."""
    where = "Remote" if attrs.remote_policy == "remote" else f"{attrs.city}, {attrs.remote_policy}"
    return f"{item.title}. {where}. Skills: {', '.join(attrs.skills[:4])}."


REFERENCE_SUMMARIES_FILE = "reference_summaries.jsonl"


def write_synthetic(
    out_dir: str | os.PathLike[str],
    seed: int = 0,
    n_items: int = DEFAULT_ITEMS,
    n_queries: int = DEFAULT_QUERIES,
    reference_summaries: bool = False,
    shape: str = "realistic",
    item_splits: bool = False,
) -> Dataset:
    """Generate a dataset and write items.jsonl, queries.jsonl and qrels.jsonl into out_dir;
    with `reference_summaries`, also reference_summaries.jsonl (the summaries.jsonl schema)."""
    items, queries, qrels, item_attrs, _ = generate(seed, n_items, n_queries, shape, item_splits)
    dataset = Dataset(
        {item.item_id: item for item in items}, {query.query_id: query for query in queries}, qrels
    )
    write_dataset(Path(out_dir), dataset)
    if reference_summaries:
        rows = [{"item_id": item.item_id, "summary": reference_summary(item, item_attrs[item.item_id])} for item in items]
        write_jsonl(Path(out_dir) / REFERENCE_SUMMARIES_FILE, rows)
    return dataset
