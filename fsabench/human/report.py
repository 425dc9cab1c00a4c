"""The human-evaluation part of `fsabench report`: a table and a chart drawn from a stats file
(`fsabench human stats STUDY` writes STUDY/stats.json). Deterministic: the same file, the same bytes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fsabench.errors import ResultError
from fsabench.io import read_json

DASH = "–"


def load_stats(path: Path) -> dict[str, Any]:
    path = Path(path)
    if path.is_dir():
        path = path / "stats.json"
    stats = read_json(path, "human-evaluation stats file", error=ResultError,
                      missing="run `fsabench human stats STUDY` first and pass STUDY/stats.json",
                      hint="pass the stats.json written by `fsabench human stats`")
    if not isinstance(stats, dict) or "models" not in stats or "agreement" not in stats:
        raise ResultError(f"{path}: not a human-evaluation stats file (no 'models' or 'agreement')",
                          hint="pass the stats.json written by `fsabench human stats`")
    return stats


def _fmt(value: float | None, digits: int = 2) -> str:
    return DASH if value is None else f"{value:.{digits}f}"


def _cell(row: dict) -> str:
    if row["value"] is None:
        return DASH
    ci = "" if row["ci_low"] is None else f" [{_fmt(row['ci_low'])}, {_fmt(row['ci_high'])}]"
    return f"{_fmt(row['value'])}{ci}"


def human_table_rows(stats: dict) -> tuple[list[str], list[list], list[str]]:
    """Columns, rows (one per model) and notes: each dimension's mean [95% CI], the hallucination
    rate, and a last row with Krippendorff's alpha per dimension."""
    from fsabench.report.tables import Cell

    keys = list(dict.fromkeys((r["dimension"], r["statistic"]) for r in stats["models"]))
    columns = ["model", "items"] + [f"{d} ({'rate' if s == 'rate' else 'mean'})" for d, s in keys]
    rows = []
    for model in sorted({r["model"] for r in stats["models"]}):
        mine = {(r["dimension"], r["statistic"]): r for r in stats["models"] if r["model"] == model}
        n = max((r["n_items"] for r in mine.values()), default=0)
        rows.append([model, str(n)] + [_cell(mine[k]) if k in mine else DASH for k in keys])
    alpha = {a["dimension"]: a["alpha"] for a in stats["agreement"]}
    shown: set[str] = set()
    alpha_row = ["Krippendorff's alpha (humans)", ""]
    for dim, _ in keys:
        alpha_row.append("" if dim in shown else _fmt(alpha.get(dim), 3))
        shown.add(dim)
    rows.append(alpha_row)
    rows = [[Cell(text) for text in row] for row in rows]
    notes = [f"{len(stats.get('humans', []))} human raters, {stats.get('items')} items; "
             f"{stats.get('bootstrap', {}).get('method', '')} ({stats.get('bootstrap', {}).get('resamples')} resamples).",
             "Alpha per dimension at the rubric's level of measurement; – is undefined (too few ratings or no variation)."]
    for j in stats.get("judges_vs_humans", []):
        notes.append(f"{j['judge']} vs humans on {j['dimension']}: mean kappa {_fmt(j['kappa_mean'], 3)} "
                     f"(humans among themselves {_fmt(j['human_kappa_mean'], 3)}), gives the human consensus "
                     f"{_fmt(None if j['consensus_agreement'] is None else 100 * j['consensus_agreement'], 1)}% of the time")
    return columns, rows, notes


def human_chart(stats: dict):
    """One panel per dimension: each model's mean with its 95% interval, on the scale's own range."""
    import matplotlib.pyplot as plt

    dims = [d for d in stats["rubric"]["dimensions"]
            if any(r["dimension"] == d["name"] and r["statistic"] == "mean" for r in stats["models"])]
    models = sorted({r["model"] for r in stats["models"]})
    fig, axes = plt.subplots(1, max(len(dims), 1), figsize=(3.2 * max(len(dims), 1), 0.5 + 0.45 * len(models) + 1),
                             squeeze=False)
    for ax, dim in zip(axes[0], dims):
        rows = {r["model"]: r for r in stats["models"] if r["dimension"] == dim["name"] and r["statistic"] == "mean"}
        for y, model in enumerate(models):
            row = rows.get(model)
            if row is None or row["value"] is None:
                continue
            low = row["ci_low"] if row["ci_low"] is not None else row["value"]
            high = row["ci_high"] if row["ci_high"] is not None else row["value"]
            ax.errorbar([row["value"]], [y], xerr=[[row["value"] - low], [high - row["value"]]], fmt="o",
                        color="#2f6fdb", capsize=3)
        ax.set_xlim(dim["min"] - 0.05 * (dim["max"] - dim["min"]), dim["max"] + 0.05 * (dim["max"] - dim["min"]))
        ax.set_yticks(range(len(models)), models if ax is axes[0][0] else [""] * len(models))
        ax.set_ylim(-0.6, len(models) - 0.4)
        ax.set_title(dim["title"], fontsize=10)
        ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def render_human_section(stats_path: Path):
    """(report Table, FigureJob) for `fsabench report --human STATS`: the table flows through every
    report format (md, latex, html, csv, json), the chart through every figure format."""
    from fsabench.report.build import FigureJob
    from fsabench.report.tables import Table

    stats = load_stats(stats_path)
    columns, rows, notes = human_table_rows(stats)
    table = Table("human", f"Human evaluation: {stats.get('study', '')}", columns, rows, notes)
    figure = FigureJob("human-eval", "Human evaluation: mean per model and dimension, 95% bootstrap interval",
                       lambda: human_chart(stats))
    return table, figure
