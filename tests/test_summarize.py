"""Offline summarization: shards, resume after SIGKILL (every item exactly once, no corrupt
shard), the same summaries as an uninterrupted run, and one-line errors."""

import json
import os
import signal
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest

from rlsum.actor import build_tiny_actor

pytestmark = pytest.mark.e2e  # whole commands or training loops; the fast loop (README, Tests) skips it

COMMON = ["shard_size=4", "batch_size=4", "generation.max_new_tokens=12", "generation.max_prompt_tokens=160", "generator=hf"]


@pytest.fixture(scope="module")
def actor_dir(tmp_path_factory):
    return build_tiny_actor(tmp_path_factory.mktemp("actor") / "actor", hidden_size=32, num_layers=1, num_heads=2)


def summarize(*overrides):
    given = {o.split("=")[0] for o in overrides}
    defaults = [o for o in COMMON if o.split("=")[0] not in given]
    return subprocess.Popen([sys.executable, "-m", "rlsum.summarize", *overrides, *defaults], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_sigkill_then_rerun_summarizes_every_item_exactly_once(actor_dir, synthetic_data_dir, tmp_path):
    out = tmp_path / "killed"
    args = (f"actor={actor_dir}", f"data={synthetic_data_dir}", f"out={out}")
    process = summarize(*args)
    deadline = time.monotonic() + 120
    while len(list((out / "shards").glob("shard-*[0-9].jsonl"))) < 3:  # a few shards done, more to come
        assert process.poll() is None and time.monotonic() < deadline, process.stderr.read() if process.poll() is not None else "timed out"
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    finished_before = len(list((out / "shards").glob("shard-*[0-9].jsonl")))
    assert not (out / "summaries.jsonl").exists()
    assert finished_before < 15  # 60 items in shards of 4: the kill came mid-run

    rerun = summarize(*args)
    _, stderr = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, stderr[-2000:]
    assert f"resuming: {finished_before} of 15 shards" in stderr or f"resuming: {finished_before + 1} of 15 shards" in stderr
    rows = read_jsonl(out / "summaries.jsonl")
    item_ids = [json.loads(line)["item_id"] for line in (synthetic_data_dir / "items.jsonl").read_text().splitlines()]
    assert sorted(r["item_id"] for r in rows) == sorted(item_ids)  # none missing, none twice
    assert pq.read_table(out / "summaries.parquet").column("item_id").to_pylist() == [r["item_id"] for r in rows]
    for shard in (out / "shards").glob("shard-*[0-9].jsonl"):
        read_jsonl(shard)  # every shard parses: none is half-written
    stats = json.loads((out / "stats.json").read_text())
    assert len(stats["shards"]) == 15 and sum(s["items"] for s in stats["shards"]) == 60

    # Greedy decoding: the resumed run wrote what an uninterrupted run writes.
    whole = tmp_path / "whole"
    straight = summarize(f"actor={actor_dir}", f"data={synthetic_data_dir}", f"out={whole}")
    assert straight.wait(timeout=300) == 0
    assert read_jsonl(whole / "summaries.jsonl") == rows


def test_split_limits_items_to_the_split_candidates(actor_dir, synthetic_data_dir, tmp_path):
    process = summarize(f"actor={actor_dir}", f"data={synthetic_data_dir}", f"out={tmp_path / 'test'}", "split=test")
    assert process.wait(timeout=300) == 0
    queries = [json.loads(line) for line in (synthetic_data_dir / "queries.jsonl").read_text().splitlines()]
    test_ids = {q["query_id"] for q in queries if q["split"] == "test"}
    wanted = {json.loads(line)["item_id"] for line in (synthetic_data_dir / "qrels.jsonl").read_text().splitlines() if json.loads(line)["query_id"] in test_ids}
    assert {r["item_id"] for r in read_jsonl(tmp_path / "test" / "summaries.jsonl")} == wanted


@pytest.mark.parametrize("overrides,message", [
    (["out=/tmp/x"], "give run=RUN_DIR, or actor=MODEL_DIR together with out=DIR"),
    (["run=/nonexistent-run"], "/nonexistent-run: not a training run directory (no config.yaml)"),
    (["prompt=fancy"], "prompt must be one of trained, plain, got 'fancy'"),
    (["generator=tgi"], "unknown generator 'tgi'; choose auto, hf, vllm, ray"),
])
def test_bad_invocations_fail_with_one_line(actor_dir, synthetic_data_dir, overrides, message):
    base = [f"data={synthetic_data_dir}"] + ([f"actor={actor_dir}", "out=/tmp/rlsum-never"] if overrides[0].startswith(("prompt", "generator")) else [])
    fails_with_one_line(*base, *overrides, message=message)


def test_generator_vllm_says_what_this_machine_lacks(actor_dir, synthetic_data_dir):
    from rlsum.verl_engine import probe_resources

    missing = probe_resources(None).missing_for_vllm()
    if not missing:
        pytest.skip("this machine has CUDA GPUs and vLLM, so generator=vllm runs here")
    fails_with_one_line(f"data={synthetic_data_dir}", f"actor={actor_dir}", "out=/tmp/rlsum-never", "generator=vllm", message=f"generator=vllm needs {' and '.join(missing)}, which this machine lacks (generator=hf runs anywhere)")


def fails_with_one_line(*overrides, message):
    process = summarize(*overrides)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 2 and message in stderr
    assert stderr.strip().count("\n") == 0  # one line, no traceback


def test_generator_ray_on_a_cluster_without_gpus_stops_before_summarizing(actor_dir, synthetic_data_dir, tmp_path):
    """A real local Ray cluster, which on this machine has CPUs only."""
    process = summarize(f"data={synthetic_data_dir}", f"actor={actor_dir}", f"out={tmp_path / 'out'}", "generator=ray")
    _, stderr = process.communicate(timeout=180)
    assert process.returncode == 2 and "Traceback" not in stderr
    assert stderr.strip().splitlines()[-1].endswith("generator=ray needs GPUs in the Ray cluster (vLLM replicas run on them); this cluster has none (generator=hf runs anywhere)")
    assert not (tmp_path / "out").exists()
