"""The pruning report in OUT: `prune_report.json` (the report dict as it is) and
`prune_report.md` (parameters and test NDCG@10 before, after pruning and after recovery,
the scoring throughput once `serving.prune_speedup` has added it, the layer table and the
per-layer MLP reconstruction errors), both written atomically."""

from __future__ import annotations

from pathlib import Path

from jobdata import write_json, write_text

ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth")


def layer_name(index: int, count: int) -> str:
    """"first layer" ... "last layer", the way sensitivity tables are usually read."""
    if index == count - 1:
        return f"last layer ({index})"
    return f"{ORDINALS[index]} layer" if index < len(ORDINALS) else f"layer {index}"


def report_markdown(report: dict) -> str:
    lines = [
        f"# Pruning report: {report['model']}",
        "",
        f"MLP: {report['method']}, {report['mlp_keep_neurons']} neurons kept per layer; layers removed: {report['removed_layers'] or 'none'} ({report['layer_criterion']}); recovery: {report['recovery']}.",
        "",
        "| | params | in decoder layers | test NDCG@10 |",
        "| --- | --- | --- | --- |",
        f"| before | {report['params_before']:,} | {report['layer_params_before']:,} | {report['ndcg_before']:.4f} |",
        f"| pruned, no recovery | {report['params_after']:,} | {report['layer_params_after']:,} | {report['ndcg_pruned']:.4f} ({report['ndcg_pruned'] - report['ndcg_before']:+.4f}) |",
        f"| pruned + {report['recovery']} | {report['params_after']:,} | {report['layer_params_after']:,} | {report['ndcg_after']:.4f} ({report['ndcg_after'] - report['ndcg_before']:+.4f}) |",
        "",
    ]
    if "speedup" in report:
        lines += [f"Scoring throughput (serving benchmark, mis, same requests and run): {report['items_per_s_before']:.0f} -> {report['items_per_s_after']:.0f} items/s ({report['speedup']:.2f}x).", ""]
    if report["sensitivity"]:
        value = "ndcg_change" if "ndcg_change" in report["sensitivity"][0] else "block_influence"
        lines += [f"Layer sensitivity (drop one layer; {value.replace('_', ' ')}):", "", "| layer removed | " + value + " |", "| --- | --- |"]
        lines += [f"| {layer_name(row['layer'], len(report['sensitivity']))} | {row[value]:+.4f} |" for row in report["sensitivity"]]
        lines.append("")
    if report["mlp"]:
        lines += ["MLP reconstruction error per layer (relative):", "", "| layer | error |", "| --- | --- |"]
        lines += [f"| {row['layer']} | {row['error']:.4g} |" for row in report["mlp"]]
    return "\n".join(lines) + "\n"


def write_report(out: Path, report: dict) -> None:
    write_json(out / "prune_report.json", report)
    write_text(out / "prune_report.md", report_markdown(report))
