"""Report charts: each function takes analysis frames (or groups) and returns a matplotlib Figure.

Figures are built with `matplotlib.figure.Figure` (no pyplot, no global state, Agg canvas), so
tests can inspect their artists and saving never opens a window. `save_figure` writes PNG/SVG/PDF
without timestamps or random ids, so the same inputs give the same bytes.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import colormaps, rc_context
from matplotlib.figure import Figure

from fsabench.report.confusion import MISSED, SPURIOUS, confusion_counts
from fsabench.report.loading import Group
from fsabench.report.tables import METRIC_NAMES

SAVE_OPTIONS = {"png": {"metadata": {"Software": None}, "dpi": 150},
                "svg": {"metadata": {"Date": None}},
                "pdf": {"metadata": {"CreationDate": None, "ModDate": None}}}
RC = {"svg.hashsalt": "fsabench", "font.size": 9, "axes.spines.top": False, "axes.spines.right": False}


def _metric(frame: pd.DataFrame, task: str | None, metric: str | None) -> str:
    if metric:
        return metric
    part = frame[frame["task"] == task] if task else frame
    return str(part["metric"].iloc[0]) if len(part) else "f1"


def metric_label(metric: str, subset: str | None = None) -> str:
    name = METRIC_NAMES.get(metric, metric)
    return f"{name} ({subset})" if subset else name


def series_labels(frame: pd.DataFrame) -> dict[tuple[str, str], str]:
    """(model, protocol) -> legend label; the protocol is named only when a model ran under several."""
    pairs = list(dict.fromkeys(zip(frame["model"], frame["protocol"])))
    models = [m for m, _ in pairs]
    return {(m, p): (f"{m} ({p})" if models.count(m) > 1 else m) for m, p in pairs}


def colors_for(labels: Sequence[str]) -> dict[str, tuple]:
    cmap = colormaps["tab10"]
    return {label: cmap(i % 10) for i, label in enumerate(labels)}


def _new(width: float = 6.4, height: float = 3.6) -> tuple[Figure, object]:
    fig = Figure(figsize=(width, height), layout="constrained")
    with rc_context(RC):
        ax = fig.subplots()
    ax.spines[["top", "right"]].set_visible(False)
    return fig, ax


def _pad_y(ax, values) -> None:
    """Scores span 0-100: keep a flat or single-point chart from zooming into a 0.1-point range."""
    values = [float(v) for v in values]
    if values and max(values) - min(values) < 5:
        mid = (max(values) + min(values)) / 2
        ax.set_ylim(max(0.0, min(mid - 5, 95.0)) - 1, min(100.0, max(mid + 5, 5.0)) + 1)


def _empty(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.4")


def bar_chart(summary: pd.DataFrame, task: str | None = None, subset: str = "all",
              metric: str | None = None) -> Figure:
    """Grouped bars with seed std error bars: x = subsets of one task, or x = tasks for one subset."""
    metric = _metric(summary, task, metric)
    part = summary[(summary["metric"] == metric) & summary["mean"].notna()]
    part = part[part["task"] == task] if task else part[part["subset"] == subset]
    xkey = "subset" if task else "task"
    groups = list(dict.fromkeys(part[xkey]))
    labels = series_labels(part)
    colors = colors_for(list(labels.values()))
    fig, ax = _new(max(6.4, 1.1 * len(groups) * max(1, len(labels)) / 2.5))
    width = 0.8 / max(1, len(labels))
    for i, ((model, protocol), label) in enumerate(labels.items()):
        rows = part[(part["model"] == model) & (part["protocol"] == protocol)].set_index(xkey)
        xs = [j for j, g in enumerate(groups) if g in rows.index]
        heights = [float(rows.loc[groups[j], "mean"]) for j in xs]
        errs = [0.0 if pd.isna(rows.loc[groups[j], "std"]) else float(rows.loc[groups[j], "std"]) for j in xs]
        ax.bar([x - 0.4 + width * (i + 0.5) for x in xs], heights, width, yerr=errs, capsize=2, label=label,
               color=colors[label], error_kw={"elinewidth": 0.8})
    ax.set_xticks(range(len(groups)), groups)
    ax.set_xlabel("subset" if task else "task")
    ax.set_ylabel(metric_label(metric))
    ax.set_title(f"{task}: {metric_label(metric)} per subset" if task else f"{metric_label(metric, subset)} per task")
    if labels:
        ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    else:
        _empty(ax, "no scores")
    return fig


def _points(summary: pd.DataFrame, task: str, subset: str, metric: str) -> pd.DataFrame:
    part = summary[(summary["task"] == task) & (summary["subset"] == subset) & (summary["metric"] == metric)]
    return part[part["mean"].notna()]


def params_chart(summary: pd.DataFrame, task: str, subset: str = "all", metric: str | None = None) -> Figure:
    """Score against parameter count on a log axis (models without a positive count are left out)."""
    metric = _metric(summary, task, metric)
    part = _points(summary, task, subset, metric)
    labels = series_labels(part)
    shown = part[part["parameters"].notna() & (part["parameters"].astype(float) > 0)]
    fig, ax = _new()
    colors = colors_for(list(labels.values()))
    for r in shown.itertuples():
        label = labels[r.model, r.protocol]
        ax.scatter([float(r.parameters)], [r.mean], color=colors[label], label=label, zorder=3)
        ax.annotate(label, (float(r.parameters), r.mean), textcoords="offset points", xytext=(4, 4), fontsize=7)
    ax.set_xscale("log")
    ax.set_xlabel("parameters (log scale)")
    ax.set_ylabel(metric_label(metric, subset))
    ax.set_title(f"{task}: {metric_label(metric)} vs model size")
    left_out = len(part) - len(shown)
    if shown.empty:
        _empty(ax, "no run records a parameter count")
    _pad_y(ax, shown["mean"])
    if left_out:
        ax.text(0.99, 0.01, f"{left_out} without a parameter count (or with 0) not shown", transform=ax.transAxes,
                ha="right", va="bottom", fontsize=7, color="0.4")
    return fig


def pareto_front(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """Points no other point beats on both cost (lower) and score (higher), sorted by cost."""
    front, best = [], -np.inf
    for cost, score in sorted(points, key=lambda p: (p[0], -p[1])):
        if score > best:
            front.append((cost, score))
            best = score
    return front


def cost_chart(summary: pd.DataFrame, task: str, subset: str = "all", metric: str | None = None) -> Figure:
    """Score against USD per 1,000 examples with the Pareto front (runs without a cost are left out)."""
    metric = _metric(summary, task, metric)
    part = _points(summary, task, subset, metric)
    labels = series_labels(part)
    shown = part[part["cost_per_1k"].notna()]
    colors = colors_for(list(labels.values()))
    fig, ax = _new()
    for r in shown.itertuples():
        label = labels[r.model, r.protocol]
        ax.scatter([float(r.cost_per_1k)], [r.mean], color=colors[label], zorder=3)
        ax.annotate(label, (float(r.cost_per_1k), r.mean), textcoords="offset points", xytext=(4, 4), fontsize=7)
    front = pareto_front([(float(r.cost_per_1k), float(r.mean)) for r in shown.itertuples()])
    if front:
        ax.step([c for c, _ in front], [s for _, s in front], where="post", color="0.3", linestyle="--",
                linewidth=1, label="Pareto front")
        ax.legend(fontsize=7, frameon=False, loc="lower right")
    _pad_y(ax, shown["mean"])
    costs = [float(c) for c in shown["cost_per_1k"]]
    if costs and min(costs) > 0 and max(costs) / min(costs) > 100:
        ax.set_xscale("log")
    ax.set_xlabel("cost per 1,000 examples (USD)")
    ax.set_ylabel(metric_label(metric, subset))
    ax.set_title(f"{task}: {metric_label(metric)} vs cost")
    if shown.empty:
        _empty(ax, "no run records a cost")
    elif len(part) > len(shown):
        ax.text(0.99, 0.99, f"{len(part) - len(shown)} without a recorded cost not shown", transform=ax.transAxes,
                ha="right", va="top", fontsize=7, color="0.4")
    return fig


def seed_chart(runs: pd.DataFrame, task: str, subset: str = "all", metric: str | None = None) -> Figure:
    """Each seed's score as a dot per model, with the mean as a bar."""
    metric = _metric(runs, task, metric)
    part = runs[(runs["task"] == task) & (runs["subset"] == subset) & (runs["metric"] == metric)
                & runs["value"].notna() & (runs["n"] > 0)]
    labels = series_labels(part)
    colors = colors_for(list(labels.values()))
    fig, ax = _new(max(6.4, 0.9 * len(labels) + 2))
    for i, ((model, protocol), label) in enumerate(labels.items()):
        values = part[(part["model"] == model) & (part["protocol"] == protocol)]["value"].astype(float).tolist()
        ax.scatter([i] * len(values), values, color=colors[label], s=18, zorder=3)
        ax.hlines(np.mean(values), i - 0.3, i + 0.3, color="0.2", linewidth=1.5)
    ax.set_xticks(range(len(labels)), list(labels.values()), rotation=20, ha="right")
    ax.set_ylabel(metric_label(metric, subset))
    ax.set_title(f"{task}: spread over seeds (dots: seeds, line: mean)")
    if not labels:
        _empty(ax, "no scores")
    return fig


def drop_chart(summary: pd.DataFrame, task: str, subsets: Sequence[str] = ("implicit", "multi"),
               metric: str | None = None) -> Figure:
    """Per model, how much the score falls from 'all' to each harder subset (positive = a drop)."""
    metric = _metric(summary, task, metric)
    part = summary[(summary["task"] == task) & (summary["metric"] == metric)]
    labels = series_labels(part)
    fig, ax = _new(max(6.4, 0.9 * len(labels) + 2))
    width = 0.8 / max(1, len(subsets))
    cmap = colormaps["Set2"]
    for j, subset in enumerate(subsets):
        xs, heights = [], []
        for i, (model, protocol) in enumerate(labels):
            rows = part[(part["model"] == model) & (part["protocol"] == protocol)].set_index("subset")["mean"]
            if "all" in rows.index and subset in rows.index and pd.notna(rows["all"]) and pd.notna(rows[subset]):
                xs.append(i - 0.4 + width * (j + 0.5))
                heights.append(round(float(rows["all"]) - float(rows[subset]), 2))
        ax.bar(xs, heights, width, label=f"all - {subset}", color=cmap(j))
    ax.axhline(0, color="0.3", linewidth=0.8)
    ax.set_xticks(range(len(labels)), list(labels.values()), rotation=20, ha="right")
    ax.set_ylabel(f"drop in {metric_label(metric)} (points)")
    ax.set_title(f"{task}: drop from 'all' to harder subsets")
    ax.legend(fontsize=7, frameon=False)
    return fig


def confusion_chart(groups: Sequence[Group], task: str) -> Figure:
    """One panel per model: gold polarity (rows, + spurious) vs predicted (columns, + missed)."""
    members = [g for g in groups if g.task == task]
    ncols = min(3, max(1, len(members)))
    nrows = max(1, -(-len(members) // ncols))
    fig = Figure(figsize=(3.6 * ncols, 3.2 * nrows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols)).ravel()
    models = [g.model for g in members]
    for ax, g in zip(axes, members):
        counts = confusion_counts(g.runs)
        ax.imshow(counts.to_numpy(), cmap="Blues")
        matrix = counts.to_numpy()
        for (i, j), value in np.ndenumerate(matrix):
            if (counts.index[i], counts.columns[j]) != (SPURIOUS, MISSED):  # not a cell: nothing to count
                ax.text(j, i, str(value), ha="center", va="center", fontsize=7,
                        color="white" if value > matrix.max() / 2 else "black")
        ax.set_xticks(range(counts.shape[1]), list(counts.columns), rotation=45, ha="right", fontsize=7)
        ax.set_yticks(range(counts.shape[0]), list(counts.index), fontsize=7)
        ax.set_xlabel("predicted")
        ax.set_ylabel("gold")
        name = f"{g.model} ({g.protocol})" if models.count(g.model) > 1 else g.model
        seeds = f", {len(g.runs)} seeds summed" if len(g.runs) > 1 else ""
        ax.set_title(f"{name}{seeds}", fontsize=8)
    for ax in axes[len(members):]:
        ax.set_axis_off()
    fig.suptitle(f"{task}: polarity confusion")
    return fig


def figure_bytes(fig: Figure, fmt: str = "png") -> bytes:
    """The figure encoded as png/svg/pdf, with no timestamps or random ids in the bytes."""
    buffer = io.BytesIO()
    with rc_context(RC):
        fig.savefig(buffer, format=fmt, **SAVE_OPTIONS[fmt])
    return buffer.getvalue()


def save_figure(fig: Figure, stem: str | Path, formats: Sequence[str] = ("png", "svg")) -> list[Path]:
    """Write stem.<fmt> for each format (atomically); returns the paths."""
    return [write_bytes(Path(f"{stem}.{fmt}"), figure_bytes(fig, fmt)) for fmt in formats]


def write_bytes(path: Path, data: bytes) -> Path:
    """Temp file beside the target, then os.replace: a crash never leaves half an image."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return path
