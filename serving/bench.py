"""Scoring benchmark: offline throughput of the scoring modes in one run, and an open-loop
load test against a running server.

    python -m serving.bench [--model PATH] [--modes naive,prefix,mis] [--items 64] ...
    python -m serving.bench --server-url http://127.0.0.1:30000 --qps 20 --duration 30

Offline: every mode scores the same random requests (query tokens, items per request,
item lengths drawn uniformly from [--item-min, --item-max]) on the same model; the table
gives items/s, pair tokens/s (query + item per pair, the work a naive scorer does) and
the ratio to the first mode. Without --model a random model of the given shape is built
(the real Qwen3 tokenizer's vocabulary size). Load: Poisson arrivals at --qps for
--duration seconds; P50/P99 latency of answered requests, achieved items/s, status
counts. Both print a table and write JSON (--out).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from ranker.cli import run_cli
from serving.engine import SCORING_MODES, load_engine
from serving.plan import TokenizedRequest

log = logging.getLogger(__name__)

LABEL_IDS = [9454, 2753]  # "Yes", "No" in the Qwen3 tokenizer


def random_requests(n_requests: int, query_tokens: int, items: int, item_min: int, item_max: int, vocab: int, seed: int) -> list[TokenizedRequest]:
    rng = random.Random(seed)
    ids = lambda n: [rng.randrange(100, vocab) for _ in range(n)]  # noqa: E731
    return [TokenizedRequest(ids(query_tokens), [ids(rng.randint(item_min, item_max)) for _ in range(items)], LABEL_IDS) for _ in range(n_requests)]


def timed_scores(engine, requests: list[TokenizedRequest], repeats: int) -> tuple[float, list[np.ndarray]]:
    """Items/s (median over `repeats` timed runs, after one warm-up request) and the
    scores of the last run."""
    engine.score(requests[:1])  # warm-up: allocator, kernels, compilation
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        scores = engine.score(requests)
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - started)
    return sum(len(r.items) for r in requests) / float(np.median(times)), scores


def offline(args) -> list[dict]:
    rows = []
    reference = None
    for mode in args.modes:
        engine = load_engine(args.model, backend=args.backend, mode=mode, dtype=args.dtype, max_batch_tokens=args.max_batch_tokens)
        requests = random_requests(args.requests, args.query_tokens, args.items, args.item_min, args.item_max, min(engine.vocab_size, 150000), args.seed)
        items_per_s, scores = timed_scores(engine, requests, args.repeats)
        stacked = np.concatenate(scores)
        reference = stacked if reference is None else reference
        pair_tokens_per_item = sum(len(r.query) * len(r.items) + sum(map(len, r.items)) for r in requests) / sum(len(r.items) for r in requests)
        rows.append({
            "mode": mode, "backend": args.backend, "items_per_s": items_per_s, "pair_tokens_per_s": items_per_s * pair_tokens_per_item,
            "ms_per_request": 1000 * args.items / items_per_s, "max_abs_diff_vs_first": float(np.abs(stacked - reference).max()),
        })
        log.info("%s: %.0f items/s", mode, items_per_s)
    for row in rows:
        row["ratio_vs_first"] = row["items_per_s"] / rows[0]["items_per_s"]
    return rows


async def open_loop(url: str, requests: list[TokenizedRequest], qps: float, duration: float, seed: int = 0, request_timeout: float = 60.0, expected: list[np.ndarray] | None = None, tolerance: float = 1e-5) -> dict:
    """Poisson arrivals at `qps` for `duration` seconds, each a random one of `requests`, with
    no retries (a 503 is counted, not hidden); /health is polled throughout. With `expected`
    (per request, the scores a correct server returns) every answered request is checked."""
    from serving.client import ScoreClient, ScoreError

    rng = random.Random(seed)
    latencies, statuses, items_done, wrong, health_failures = [], {}, 0, 0, 0
    async with ScoreClient(url, retries=0, timeout=request_timeout) as client:

        async def one(index: int):
            nonlocal items_done, wrong
            request = requests[index]
            started = time.perf_counter()
            try:
                scores = await client.score(request.query, request.items, request.label_ids, request.apply_softmax)
                status = 200
            except ScoreError as error:
                status = error.status or "connection error"
            statuses[status] = statuses.get(status, 0) + 1
            if status == 200:
                latencies.append(time.perf_counter() - started)
                items_done += len(request.items)
                if expected is not None and not np.allclose(scores, expected[index], atol=tolerance, rtol=0):
                    wrong += 1

        async def watch_health(stop: asyncio.Event):
            nonlocal health_failures
            while not stop.is_set():
                if await client.health() != "ok":
                    health_failures += 1
                await asyncio.sleep(0.1)

        stop = asyncio.Event()
        watcher = asyncio.create_task(watch_health(stop))
        tasks, started = [], time.perf_counter()
        while time.perf_counter() - started < duration:
            tasks.append(asyncio.create_task(one(rng.randrange(len(requests)))))
            await asyncio.sleep(rng.expovariate(qps))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - started
        stop.set()
        await watcher
    ms = np.array(latencies) * 1000 if latencies else np.array([float("nan")])
    return {
        "offered_qps": qps, "offered_items_per_s": qps * np.mean([len(r.items) for r in requests]), "sent": len(tasks),
        "statuses": {str(k): v for k, v in sorted(statuses.items(), key=lambda kv: str(kv[0]))},
        "wrong_scores": wrong if expected is not None else None, "health_failures": health_failures,
        "achieved_items_per_s": items_done / elapsed, "p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)),
    }


def print_table(rows: list[dict]) -> None:
    columns = list(rows[0])
    print(" | ".join(columns))
    print(" | ".join("---" for _ in columns))
    for row in rows:
        print(" | ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in row.values()))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="HF causal-LM directory; default: a random model of the shape below")
    parser.add_argument("--arch", default="qwen3", choices=["qwen3", "llama"])
    parser.add_argument("--hidden-size", type=int, default=128)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--kv-heads", type=int, default=2)
    parser.add_argument("--intermediate-size", type=int, default=512)
    parser.add_argument("--head-dim", type=int, help="default hidden size / heads (Qwen3-0.6B: 128)")
    parser.add_argument("--modes", default="naive,prefix,mis", type=lambda s: s.split(","))
    parser.add_argument("--backend", default="torch")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--max-batch-tokens", type=int, default=16384)
    parser.add_argument("--requests", type=int, default=8)
    parser.add_argument("--query-tokens", type=int, default=32)
    parser.add_argument("--items", type=int, default=64, help="items per request")
    parser.add_argument("--item-min", type=int, default=60)
    parser.add_argument("--item-max", type=int, default=180)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--server-url", help="run the open-loop load test against this server instead")
    parser.add_argument("--qps", type=float, default=10.0, help="offered requests per second (Poisson)")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of arrivals")
    parser.add_argument("--request-timeout", type=float, default=60.0)
    parser.add_argument("--out", help="write the results as JSON here")
    args = parser.parse_args(argv)
    unknown = [m for m in args.modes if m not in SCORING_MODES]
    if unknown:
        parser.error(f"unknown mode(s) {unknown}; choose from {sorted(SCORING_MODES)}")
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    torch.manual_seed(args.seed)
    if args.server_url:
        requests = random_requests(64, args.query_tokens, args.items, args.item_min, args.item_max, 150000, args.seed)
        result = {"load": asyncio.run(open_loop(args.server_url, requests, args.qps, args.duration, args.seed, args.request_timeout))}
        print_table([result["load"]])
    else:
        with tempfile.TemporaryDirectory() as tmp:
            if args.model is None:
                from ranker.tiny import build_tiny_ranker

                args.model = str(build_tiny_ranker(Path(tmp) / "model", arch=args.arch, hidden_size=args.hidden_size, num_layers=args.layers, num_heads=args.heads, num_key_value_heads=args.kv_heads, intermediate_size=args.intermediate_size, **({'head_dim': args.head_dim} if args.head_dim else {})))
            rows = offline(args)
        result = {"workload": {k: getattr(args, k) for k in ("query_tokens", "items", "item_min", "item_max", "requests", "backend", "dtype", "max_batch_tokens")}, "offline": rows}
        print_table(rows)
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    run_cli(main)
