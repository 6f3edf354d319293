"""What summaries cost in ranking quality and buy in length: the evaluation report.

    python -m rlsum.evaluate --ranker PATH --data DIR --runs RUN_DIR [RUN_DIR ...] --out DIR
        [--summaries NAME=FILE ...] [--plain-actor ACTOR_DIR] [--truncation 0.05,0.1,0.2,0.4]

NDCG@10 on the test split for the raw text and for every summaries file: each run
directory's `summaries/summaries.jsonl` (from `python -m rlsum.summarize run=RUN`,
labelled with the run's algorithm and length penalty) and any NAME=FILE given. Baselines
computed here: first-k-token truncation of every item to the length of its own summary
(the same compression), truncation at fixed ratios (a curve), and, with --plain-actor, a
plain "summarize" prompt to that actor (the one RL starts from). Compression = 1 - mean(L_c / L_o) over
the test candidates, counted in the actor tokenizer's tokens. Reads only local files (no
W&B). Writes OUT/report.md (tables in the seed's shape), OUT/report.json and
OUT/pareto.png (NDCG@10 change against compression, one point per run, baselines as a
curve).
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

from ranker.cli import run_cli
from ranker.evaluate import evaluate_ranker
from ranker.scoring import load_ranker
from ranker.token_budget import count_tokens
from jobdata import Dataset, load_dataset, load_summaries

log = logging.getLogger("rlsum.evaluate")

SPLIT = "test"
# The target the report checks: at least this compression, at most this relative loss.
TARGET_COMPRESSION, TARGET_RELATIVE_LOSS = 0.80, 0.03


@dataclass
class Row:
    name: str
    kind: str  # raw | rl | summaries | truncation | plain
    ndcg: float
    compression: float
    algorithm: str = ""
    penalty: str = ""
    weight: str = ""
    training: str = ""  # RL steps and training postings, e.g. "30 steps x 64 postings"
    ndcg_change: float = 0.0  # relative to raw text
    truncation_ndcg_change: float | None = None  # first-k truncation at the same per-item lengths

    @property
    def display_name(self) -> str:
        """How the report's table and plot legend name this row."""
        if self.kind == "rl":
            return f"{self.algorithm.upper()} {self.penalty} w={self.weight}, {self.training}"
        return "actor before RL, plain prompt" if self.kind == "plain" else self.name


def truncate(tokenizer, encoded: dict[str, list[int]], lengths: dict[str, int]) -> dict[str, str]:
    """Each text (as its token ids) cut to its first lengths[id] tokens."""
    return {i: tokenizer.decode(ids[: lengths[i]]) for i, ids in encoded.items()}


def compression(summary_tokens: dict[str, int], original_tokens: dict[str, int]) -> float:
    return 1.0 - float(np.mean([summary_tokens[i] / original_tokens[i] for i in original_tokens]))


def run_label(run_dir: Path) -> tuple[str, str, str, str]:
    """(algorithm, length penalty, weight, training size) from the run's resolved config
    and the training set it prepared."""
    cfg = OmegaConf.load(run_dir / "config.yaml")
    penalty = cfg.get("penalty") or {}
    name = str(penalty.get("name", "none"))
    params = {k: v for k, v in penalty.items() if k != "name"}
    weight = str(params.pop("w", ""))
    extra = ", ".join(f"{k}={v}" for k, v in params.items())
    postings = json.loads((run_dir / "prepared" / "prepare_summary.json").read_text())["train"]["items"]
    training = f"{cfg.trainer.total_training_steps} steps x {postings} postings"
    return str(cfg.algo.name), name.upper() + (f" ({extra})" if extra else ""), weight, training


NO_RUN_LABEL = ("", "", "", "")  # run_label's parts, for summaries that no RL run wrote


def candidate_texts(dataset: Dataset) -> dict[str, str]:
    return {r.item_id: dataset.items[r.item_id].text for r in dataset.qrels}


def evaluate_all(args) -> list[Row]:
    from transformers import AutoTokenizer

    full = load_dataset(args.data)
    dataset = full.only_split(SPLIT)  # one line when there is no test split
    texts = candidate_texts(dataset)
    summary_sets = {}
    for run in args.runs:
        path = Path(run) / "summaries" / "summaries.jsonl"
        if not path.exists():
            raise FileNotFoundError(f"{path}: no summaries for run {run} (python -m rlsum.summarize run={run} data={args.data} split=test)")
        summary_sets[Path(run).name] = (load_summaries(path, full.items), "rl", run_label(Path(run)))
    for spec in args.summaries:
        name, _, path = spec.partition("=")
        if not path:
            raise ValueError(f"--summaries takes NAME=FILE, got {spec!r}")
        summary_sets[name] = (load_summaries(path, full.items), "summaries", NO_RUN_LABEL)
    if args.plain_actor:
        summary_sets["plain prompt"] = (plain_summaries(args, texts), "plain", NO_RUN_LABEL)

    tokenizer = AutoTokenizer.from_pretrained(args.tokenizer or args.ranker)
    # The postings are tokenized once: their lengths and every truncation come from these ids.
    encoded = dict(zip(texts, tokenizer(list(texts.values()), add_special_tokens=False)["input_ids"]))
    original = {i: len(ids) for i, ids in encoded.items()}
    ranker = load_ranker(args.ranker, max_length=args.max_length)

    def ndcg(item_texts: dict[str, str] | None) -> float:
        return evaluate_ranker(ranker, dataset, SPLIT, summaries=item_texts, batch_size=args.batch_size)["ndcg@10"]

    raw = ndcg(None)
    rows = [Row("raw text", "raw", raw, 0.0)]
    for name, (summaries, kind, (algorithm, penalty, weight, training)) in summary_sets.items():
        missing = sorted(set(texts) - set(summaries))
        if missing:
            raise ValueError(f"summaries {name!r} lack {len(missing)} test candidate(s), e.g. {missing[:3]}")
        chosen = {i: summaries[i] for i in texts}
        lengths = dict(zip(chosen, count_tokens(tokenizer, list(chosen.values()))))
        value = ndcg(chosen)
        matched = ndcg(truncate(tokenizer, encoded, lengths))
        rows.append(Row(name, kind, value, compression(lengths, original), algorithm, penalty, weight, training, value / raw - 1, matched / raw - 1))
        log.info("%s: NDCG@10 %.4f (%+.1f%%), compression %.3f; truncation at the same lengths %+.1f%%", name, value, 100 * rows[-1].ndcg_change, rows[-1].compression, 100 * rows[-1].truncation_ndcg_change)
    for ratio in args.truncation:
        lengths = {i: max(1, round(ratio * n)) for i, n in original.items()}
        value = ndcg(truncate(tokenizer, encoded, lengths))
        rows.append(Row(f"first {ratio:.0%} of tokens", "truncation", value, compression(lengths, original), ndcg_change=value / raw - 1))
    return rows


def plain_summaries(args, items: dict[str, str]) -> dict[str, str]:
    """The baseline: the actor before RL (--plain-actor, e.g. the SFT warm start) asked to "summarize", same lengths as training."""
    from rlsum.summarize import default_generation, summarize_items

    out = summarize_items(items, Path(args.plain_actor), Path(args.plain_out), default_generation(max_new_tokens=args.plain_max_new_tokens), prompt="plain", provenance={"data": str(args.data), "split": SPLIT})
    return load_summaries(out / "summaries.jsonl")


def verdict(rows: list[Row]) -> str:
    """Whether the best RL run meets the target, in one sentence with the numbers."""
    rl = [r for r in rows if r.kind == "rl"]
    if not rl:
        return "No RL run was evaluated."
    qualifying = [r for r in rl if r.compression >= TARGET_COMPRESSION]
    best = max(qualifying or rl, key=lambda r: r.ndcg)
    meets = best.compression >= TARGET_COMPRESSION and -best.ndcg_change <= TARGET_RELATIVE_LOSS
    beats = best.truncation_ndcg_change is not None and best.ndcg_change > best.truncation_ndcg_change
    return (
        f"Best RL run: {best.name} ({best.algorithm}, {best.penalty} w={best.weight}, {best.training}) at {best.compression:.1%} compression "
        f"changes NDCG@10 by {best.ndcg_change:+.1%} (target: >= {TARGET_COMPRESSION:.0%} compression with <= {TARGET_RELATIVE_LOSS:.0%} loss: "
        f"{'met' if meets else 'NOT met'}); truncation to the same lengths changes it by {best.truncation_ndcg_change:+.1%} "
        f"(RL {'beats' if beats else 'does NOT beat'} truncation)."
    )


def write_report(rows: list[Row], out: Path, title: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps({"rows": [asdict(r) for r in rows], "verdict": verdict(rows)}, indent=2) + "\n")
    raw = rows[0].ndcg
    lines = [f"# {title}", "", f"Test NDCG@10 on raw text: {raw:.4f}. Changes are relative to it; compression = 1 - mean(L_c / L_o).", "", verdict(rows), "",
             "| ALGORITHM | LENGTH PENALTY | PENALTY WEIGHT | RL TRAINING | NDCG@10 | NDCG@10 CHANGE | COMPRESSION | TRUNCATION AT SAME LENGTHS |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        if r.kind in ("rl", "summaries", "plain"):
            algorithm = r.algorithm.upper() if r.kind == "rl" else r.display_name
            lines.append(f"| {algorithm} | {r.penalty or '-'} | {r.weight or '-'} | {r.training or '-'} | {r.ndcg:.4f} | {r.ndcg_change:+.1%} | {r.compression:.1%} | {r.truncation_ndcg_change:+.1%} |")
    lines += ["", "Truncation baseline (first tokens of every posting):", "", "| KEPT | NDCG@10 | NDCG@10 CHANGE | COMPRESSION |", "| --- | --- | --- | --- |"]
    lines += [f"| {r.name} | {r.ndcg:.4f} | {r.ndcg_change:+.1%} | {r.compression:.1%} |" for r in rows if r.kind == "truncation"]
    lines += ["", "![NDCG@10 change against compression](pareto.png)", ""]
    (out / "report.md").write_text("\n".join(lines))
    plot(rows, out / "pareto.png")


def plot(rows: list[Row], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4.8))
    curve = sorted((r for r in rows if r.kind == "truncation"), key=lambda r: r.compression)
    ax.plot([100 * r.compression for r in curve], [100 * r.ndcg_change for r in curve], "o--", color="grey", label="truncation (first tokens)")
    # Runs often sit close together: one marker and colour per run, named in the legend.
    points = [r for r in rows if r.kind in ("rl", "summaries", "plain")]
    markers = "osD^v<>Xp*"
    for n, r in enumerate(points):
        ax.scatter(100 * r.compression, 100 * r.ndcg_change, marker=markers[n % len(markers)], color=plt.cm.tab10(n % 10), s=45, zorder=3, label=r.display_name)
    ax.axhline(0, color="black", linewidth=0.5)
    ax.axhline(-100 * TARGET_RELATIVE_LOSS, color="tab:red", linewidth=0.5, linestyle=":", label=f"-{TARGET_RELATIVE_LOSS:.0%} NDCG@10")
    ax.axvline(100 * TARGET_COMPRESSION, color="tab:red", linewidth=0.5, linestyle=":")
    ax.set_xlabel("compression (%): 1 - mean(L_c / L_o)")
    ax.set_ylabel("NDCG@10 change vs raw text (%)")
    ax.set_title("Ranking quality against summary length (test split)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ranker", required=True, help="the (frozen, pruned) ranker the summaries are for")
    parser.add_argument("--data", required=True, help="data directory with a test split")
    parser.add_argument("--runs", nargs="*", default=[], help="training run directories with summaries/summaries.jsonl")
    parser.add_argument("--summaries", nargs="*", default=[], help="more summaries files as NAME=FILE")
    parser.add_argument("--plain-actor", help="actor for the plain-prompt baseline (the one RL starts from, e.g. the SFT warm start)")
    parser.add_argument("--plain-max-new-tokens", type=int, default=48)
    parser.add_argument("--plain-out", default="runs/plain-prompt-summaries", help="where the plain-prompt summaries go (resumable)")
    parser.add_argument("--truncation", type=lambda s: [float(x) for x in s.split(",")], default=[0.02, 0.05, 0.1, 0.2, 0.4], help="kept shares for the truncation curve")
    parser.add_argument("--tokenizer", help="actor tokenizer for L_o and L_c (default: the ranker's)")
    parser.add_argument("--max-length", type=int, default=256, help="ranker's max tokens per pair")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--title", default="Summaries against raw text: the synthetic benchmark")
    parser.add_argument("--out", required=True)
    return parser.parse_args(argv)


def main(argv=None) -> list[Row]:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    rows = evaluate_all(args)
    write_report(rows, Path(args.out), args.title)
    print(verdict(rows))
    return rows


if __name__ == "__main__":
    run_cli(main)
