"""The human-evaluation part of `fsabench report`: a table and a chart drawn from a stats file
(`fsabench human stats STUDY` writes STUDY/stats.json). Deterministic: the same file, the same bytes.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from fsabench.errors import ResultError, from_validation
from fsabench.io import read_json

DASH = "–"
MAX_STATS_BYTES = 50_000_000
Finite = Field(None, allow_inf_nan=False)


class _Read(BaseModel):
    """The fields the report reads are typed; the rest of the file (disagreements, kappa pairs) is kept."""

    model_config = ConfigDict(extra="allow", strict=True)  # "3.5" is not the number 3.5


class ModelRow(_Read):
    model: str
    dimension: str
    statistic: Literal["mean", "rate"]
    n_items: int = Field(strict=True, ge=0)
    value: float | None = Finite
    ci_low: float | None = Finite
    ci_high: float | None = Finite

    @model_validator(mode="after")
    def _interval(self) -> "ModelRow":
        if (self.ci_low is None) != (self.ci_high is None):
            raise ValueError("ci_low and ci_high are both numbers or both null")
        if self.ci_low is not None and self.value is not None and not self.ci_low <= self.value <= self.ci_high:
            raise ValueError(f"interval [{self.ci_low}, {self.ci_high}] does not hold the value {self.value} "
                             "(reversed or hand-edited)")
        if self.statistic == "rate" and self.value is not None and not 0 <= self.value <= 1:
            raise ValueError(f"a rate of {self.value} is not between 0 and 1")
        return self


class AgreementRow(_Read):
    dimension: str
    alpha: float | None = Field(None, le=1, allow_inf_nan=False)  # at most 1 (perfect); below -1 in tiny samples


class JudgeRow(_Read):
    judge: str
    dimension: str
    kappa_mean: float | None = Field(None, ge=-1, le=1, allow_inf_nan=False)
    human_kappa_mean: float | None = Field(None, ge=-1, le=1, allow_inf_nan=False)
    consensus_agreement: float | None = Field(None, ge=0, le=1, allow_inf_nan=False)


class DimensionInfo(_Read):
    name: str
    title: str
    min: float = Field(allow_inf_nan=False)
    max: float = Field(allow_inf_nan=False)

    @model_validator(mode="after")
    def _range(self) -> "DimensionInfo":
        if not self.min < self.max:
            raise ValueError(f"scale min {self.min} is not below max {self.max}")
        return self


class RubricInfo(_Read):
    dimensions: list[DimensionInfo]


class StatsFile(_Read):
    """What `fsabench human stats` writes, as `report --human` reads it."""

    models: list[ModelRow]
    agreement: list[AgreementRow]
    rubric: RubricInfo
    judges_vs_humans: list[JudgeRow] = Field(default_factory=list)
    humans: list[str] = Field(default_factory=list)
    items: int | None = Field(None, strict=True, ge=0)

    @model_validator(mode="after")
    def _means_on_the_scale(self) -> "StatsFile":
        ranges = {d.name: (d.min, d.max) for d in self.rubric.dimensions}
        for row in self.models:
            if row.statistic == "mean" and row.value is not None and row.dimension in ranges:
                low, high = ranges[row.dimension]
                if not low <= row.value <= high:
                    raise ValueError(f"model {row.model!r} {row.dimension} mean {row.value} is off the scale "
                                     f"{low:g}..{high:g}")
        return self


def load_stats(path: Path) -> dict[str, Any]:
    """A stats file, checked: finite numbers, intervals that hold their value, alpha and kappa in [-1, 1]."""
    path = Path(path)
    if path.is_dir():
        path = path / "stats.json"
    stats = read_json(path, "human-evaluation stats file", error=ResultError, max_bytes=MAX_STATS_BYTES,
                      missing="run `fsabench human stats STUDY` first and pass STUDY/stats.json",
                      hint="pass the stats.json written by `fsabench human stats`", max_values=5_000_000, max_depth=32)
    if not isinstance(stats, dict) or "models" not in stats or "agreement" not in stats:
        raise ResultError(f"{path}: not a human-evaluation stats file (no 'models' or 'agreement')",
                          hint="pass the stats.json written by `fsabench human stats`")
    try:
        return StatsFile.model_validate(stats).model_dump()
    except ValidationError as exc:
        raise from_validation(str(path), exc, "re-write it with `fsabench human stats STUDY`", ResultError) from None


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
    # at most two panels a row, 7 in wide (a paper's text width): four dimensions side by side were 12.8 in
    # wide with overlapping ticks
    ncols = min(max(len(dims), 1), 2)
    nrows = math.ceil(max(len(dims), 1) / ncols)
    fig, grid = plt.subplots(nrows, ncols, figsize=(7.0, nrows * (0.9 + 0.3 * len(models))), squeeze=False)
    panels = [ax for row in grid for ax in row]
    for ax in panels[len(dims):]:
        ax.set_visible(False)
    axes = [panels]
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
        ax.set_yticks(range(len(models)), models if panels.index(ax) % ncols == 0 else [""] * len(models), fontsize=8)
        ax.tick_params(axis="x", labelsize=8)
        ax.locator_params(axis="x", nbins=5)
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
