"""`python -m serving.bench` end to end on a small workload: every mode scores the same
requests to the same values, and the JSON carries the table."""

import json
import subprocess
import sys

import pytest


@pytest.mark.e2e  # the whole offline benchmark
def test_offline_benchmark_runs_all_modes_and_they_agree(tmp_path):
    out = tmp_path / "bench.json"
    command = [sys.executable, "-m", "serving.bench", "--hidden-size", "32", "--layers", "2", "--heads", "2", "--kv-heads", "1", "--intermediate-size", "64",
               "--requests", "2", "--items", "6", "--item-min", "3", "--item-max", "20", "--query-tokens", "8", "--repeats", "1", "--out", str(out)]
    printed = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    result = json.loads(out.read_text())
    assert [row["mode"] for row in result["offline"]] == ["naive", "prefix", "mis"]
    for row in result["offline"]:
        assert row["items_per_s"] > 0 and row["max_abs_diff_vs_first"] < 1e-6
    assert result["offline"][0]["ratio_vs_first"] == 1.0
    assert "mode | backend | items_per_s" in printed
