"""Scoring throughput of a pruned ranker against the ranker it was pruned from, in one run,
added to the pruning report that `python -m ranker.prune` wrote:

    python -m serving.prune_speedup --pruned OUT [--requests 4] [--seed 0]

Both models score the serving benchmark's standard requests (`serving.bench.random_requests`)
with `mis` scoring; the report gains items_per_s_before, items_per_s_after and speedup,
and prune_report.md is rewritten with the throughput line.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from ranker.cli import run_cli
from ranker.prune_report import write_report
from serving.bench import random_requests, timed_scores
from serving.engine import load_engine

log = logging.getLogger(__name__)


def mis_throughput(model_dir: Path, requests: int, seed: int) -> float:
    """Items/s of `mis` scoring on the serving benchmark's standard requests."""
    engine = load_engine(str(model_dir))
    workload = random_requests(requests, 32, 64, 60, 180, min(engine.vocab_size, 150000), seed)
    return timed_scores(engine, workload, repeats=3)[0]


def add_speedup(pruned: Path, requests: int, seed: int) -> dict:
    """Measure the unpruned model named in the report and the pruned one; rewrite the report."""
    report_path = pruned / "prune_report.json"
    if not report_path.is_file():
        raise FileNotFoundError(f"{report_path}: no pruning report (run python -m ranker.prune --out {pruned} first)")
    if requests < 1:
        raise ValueError(f"--requests must be at least 1, got {requests}")
    report = json.loads(report_path.read_text())
    report["items_per_s_before"] = mis_throughput(Path(report["model"]), requests, seed)
    report["items_per_s_after"] = mis_throughput(pruned, requests, seed)
    report["speedup"] = report["items_per_s_after"] / report["items_per_s_before"]
    write_report(pruned, report)
    log.info("mis scoring: %.0f -> %.0f items/s (%.2fx)", report["items_per_s_before"], report["items_per_s_after"], report["speedup"])
    return report


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m serving.prune_speedup", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pruned", required=True, help="output directory of python -m ranker.prune")
    parser.add_argument("--requests", type=int, default=4, help="benchmark requests (64 items each)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    report = add_speedup(Path(args.pruned), args.requests, args.seed)
    print(json.dumps({k: report[k] for k in ("items_per_s_before", "items_per_s_after", "speedup")}))
    return report


if __name__ == "__main__":
    run_cli(main)
