"""The pruning report (ranker.prune_report): layer names as tables read them, and the
Markdown of a hand-built report, with and without the serving layer's throughput."""

import json

from ranker.prune_report import layer_name, report_markdown, write_report

REPORT = {
    "model": "models/ranker", "method": "osscar", "mlp_keep_neurons": 128, "drop_layers": 1, "layer_criterion": "ndcg",
    "params_before": 1_000_000, "layer_params_before": 400_000, "ndcg_before": 0.5,
    "removed_layers": [2], "sensitivity": [{"layer": 0, "ndcg@10": 0.3, "ndcg_change": -0.2}, {"layer": 1, "ndcg@10": 0.49, "ndcg_change": -0.01}, {"layer": 2, "ndcg@10": 0.505, "ndcg_change": 0.005}],
    "sensitivity_baseline": 0.5, "mlp": [{"layer": 0, "kept": 128, "error": 0.0123456}, {"layer": 1, "kept": 128, "error": 0.0004}],
    "params_after": 900_000, "layer_params_after": 300_000, "ndcg_pruned": 0.48, "ndcg_after": 0.51, "recovery": "distill", "seconds": 12.0,
}


def test_layers_are_named_first_to_last():
    assert [layer_name(i, 3) for i in range(3)] == ["first layer", "second layer", "last layer (2)"]
    assert layer_name(9, 12) == "tenth layer" and layer_name(10, 12) == "layer 10" and layer_name(11, 12) == "last layer (11)"


def test_the_markdown_of_a_hand_built_report():
    assert report_markdown(REPORT) == """# Pruning report: models/ranker

MLP: osscar, 128 neurons kept per layer; layers removed: [2] (ndcg); recovery: distill.

| | params | in decoder layers | test NDCG@10 |
| --- | --- | --- | --- |
| before | 1,000,000 | 400,000 | 0.5000 |
| pruned, no recovery | 900,000 | 300,000 | 0.4800 (-0.0200) |
| pruned + distill | 900,000 | 300,000 | 0.5100 (+0.0100) |

Layer sensitivity (drop one layer; ndcg change):

| layer removed | ndcg_change |
| --- | --- |
| first layer | -0.2000 |
| second layer | -0.0100 |
| last layer (2) | +0.0050 |

MLP reconstruction error per layer (relative):

| layer | error |
| --- | --- |
| 0 | 0.01235 |
| 1 | 0.0004 |
"""


def test_throughput_and_block_influence_and_nothing_pruned():
    report = {**REPORT, "removed_layers": [], "layer_criterion": "block-influence", "sensitivity": [{"layer": 0, "block_influence": 0.25}, {"layer": 1, "block_influence": 0.0625}],
              "mlp": [], "items_per_s_before": 330.4, "items_per_s_after": 490.6, "speedup": 490.6 / 330.4}
    lines = report_markdown(report).splitlines()
    assert "MLP: osscar, 128 neurons kept per layer; layers removed: none (block-influence); recovery: distill." in lines
    assert "Scoring throughput (serving benchmark, mis, same requests and run): 330 -> 491 items/s (1.48x)." in lines
    assert lines[-7:] == ["Layer sensitivity (drop one layer; block influence):", "", "| layer removed | block_influence |", "| --- | --- |", "| first layer | +0.2500 |", "| last layer (1) | +0.0625 |", ""]
    assert not any("reconstruction" in line for line in lines)


def test_write_report_writes_both_files(tmp_path):
    write_report(tmp_path, REPORT)
    assert json.loads((tmp_path / "prune_report.json").read_text()) == REPORT
    assert (tmp_path / "prune_report.md").read_text() == report_markdown(REPORT)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["prune_report.json", "prune_report.md"]  # no temp file left
