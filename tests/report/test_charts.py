"""Charts are checked by their contents (bars, points, lines, labels), not only by the files."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.collections import PathCollection
from matplotlib.container import BarContainer

from fsabench.report import (analyze, bar_chart, confusion_chart, confusion_counts, cost_chart, drop_chart,
                             load_runs, params_chart, seed_chart)
from fsabench.report.charts import pareto_front

MODELS = ["baseline:empty", "baseline:gold", "baseline:lexicon", "test:llm-7b", "test:student-220m"]


@pytest.fixture(scope="module")
def analysis(report_runs):
    return analyze(load_runs([report_runs]), n_boot=0, tests=False)


def _mean(summary, model, subset="all", task="atsa-rest14"):
    row = summary[(summary.model == model) & (summary.task == task) & (summary.subset == subset)]
    return float(row["mean"].iloc[0]), row["std"].iloc[0]


def _bars(ax):
    return [c for c in ax.containers if isinstance(c, BarContainer)]


def _points(ax):
    return [tuple(p) for c in ax.collections if isinstance(c, PathCollection) for p in c.get_offsets()]


def test_bar_chart_has_one_bar_per_model_and_subset_with_seed_error_bars(analysis):
    fig = bar_chart(analysis.summary, task="atsa-rest14")
    ax = fig.axes[0]
    containers = _bars(ax)
    assert [c.get_label() for c in containers] == MODELS
    assert sum(len(c.patches) for c in containers) == len(MODELS) * 3  # all, implicit, multi (hard is empty)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["all", "implicit", "multi"]
    assert ax.get_ylabel() == "F1" and ax.get_xlabel() == "subset"
    student = containers[MODELS.index("test:student-220m")]
    mean, std = _mean(analysis.summary, "test:student-220m")
    assert student.patches[0].get_height() == pytest.approx(mean)
    segments = student.errorbar.lines[2][0].get_segments()
    assert segments[0][1][1] - segments[0][0][1] == pytest.approx(2 * std)
    assert containers[MODELS.index("baseline:empty")].patches[0].get_height() == 0


def test_overview_bars_put_tasks_on_the_x_axis(analysis):
    fig = bar_chart(analysis.summary[analysis.summary.task_type == "extraction"], subset="all")
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["atsa-rest14"]
    assert sum(len(c.patches) for c in _bars(fig.axes[0])) == len(MODELS)


def test_params_chart_places_models_on_a_log_axis(analysis):
    ax = params_chart(analysis.summary, "atsa-rest14").axes[0]
    assert ax.get_xscale() == "log" and ax.get_xlabel() == "parameters (log scale)"
    points = sorted(_points(ax))
    assert points == [(220e6, pytest.approx(_mean(analysis.summary, "test:student-220m")[0])),
                      (7e9, pytest.approx(_mean(analysis.summary, "test:llm-7b")[0]))]
    notes = [t.get_text() for t in ax.texts]
    assert "3 without a parameter count\n(or with 0) not shown" in notes
    legend = ax.figure.legends[0]  # names in a legend under the plot, never on the points
    assert [t.get_text() for t in legend.get_texts()] == ["test:llm-7b", "test:student-220m"]


def test_cost_chart_draws_the_pareto_front(analysis):
    ax = cost_chart(analysis.summary, "atsa-rest14").axes[0]
    assert _points(ax) == [(2.0, pytest.approx(_mean(analysis.summary, "test:llm-7b")[0]))]
    front = [line for line in ax.lines if line.get_label() == "Pareto front"]
    assert len(front) == 1 and list(front[0].get_xdata()) == [2.0]
    assert ax.get_xlabel() == "cost per 1,000 examples (USD)"
    assert pareto_front([(1, 50), (2, 40), (3, 70), (0.5, 10), (3, 60)]) == [(0.5, 10), (1, 50), (3, 70)]


def test_seed_chart_shows_every_seed(analysis):
    ax = seed_chart(analysis.runs, "atsa-rest14").axes[0]
    runs = analysis.runs
    student = runs[(runs.model == "test:student-220m") & (runs.subset == "all") & (runs.task == "atsa-rest14")]
    x = MODELS.index("test:student-220m")
    assert sorted(y for px, y in _points(ax) if px == x) == sorted(student["value"])
    assert len(_points(ax)) == 2 + 2 + 2 + 2 + 3
    assert [t.get_text() for t in ax.get_xticklabels()] == MODELS


def test_drop_chart_bars_are_all_minus_subset(analysis):
    ax = drop_chart(analysis.summary, "atsa-rest14").axes[0]
    implicit, multi = _bars(ax)
    assert implicit.get_label() == "all - implicit" and multi.get_label() == "all - multi"
    lexicon = MODELS.index("baseline:lexicon")
    expected = _mean(analysis.summary, "baseline:lexicon")[0] - _mean(analysis.summary, "baseline:lexicon", "implicit")[0]
    assert implicit.patches[lexicon].get_height() == pytest.approx(expected)
    assert multi.patches[MODELS.index("baseline:gold")].get_height() == 0


def test_confusion_chart_has_one_matrix_per_model(analysis):
    fig = confusion_chart(analysis.groups, "atsa-rest14")
    panels = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title() for ax in panels] == [f"{m}\n(mean of {3 if 'student' in m else 2} seeds)" for m in MODELS]
    gold_group = next(g for g in analysis.groups if g.model == "baseline:gold" and g.task == "atsa-rest14")
    counts = confusion_counts(gold_group.runs, average=True)
    assert list(counts.index) == ["positive", "neutral", "negative", "conflict", "spurious"]
    assert list(counts.columns) == ["positive", "neutral", "negative", "conflict", "missed"]
    matrix = np.asarray(panels[1].images[0].get_array())
    assert (matrix == counts.to_numpy()).all()
    assert matrix.trace() == sum(len(e.gold) for e in gold_group.runs[0].examples)  # per seed, not summed
    empty = np.asarray(panels[0].images[0].get_array())
    assert empty[:, -1].sum() == matrix.trace() and empty[:, :-1].sum() == 0  # everything missed
    assert [t.get_text() for t in panels[1].get_xticklabels()][-1] == "missed"
    assert panels[1].get_xlabel() == "predicted" and panels[1].get_ylabel() == "gold"
