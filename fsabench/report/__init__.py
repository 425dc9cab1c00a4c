"""Reports from RunResult files: seed-aggregated tables, statistics, charts and one HTML page.

Public API (also used by the leaderboard); see docs/report.md:

    results = load_runs(["runs/"])                  # list[RunResult]; bad files raise ResultError
    frame = summary_frame(results, baseline=None)   # tidy pandas frame, one row per score
    analysis = analyze(results)                     # groups, flags, summary, runs, tests frames
    fig = bar_chart(analysis.summary, task="atsa-rest14")   # a matplotlib Figure (Agg)

Charts and HTML import matplotlib lazily (the `report` extra).
"""

from __future__ import annotations

from fsabench.report.frames import Analysis, analyze, runs_frame, summary_frame
from fsabench.report.loading import Group, group_runs, load_runs
from fsabench.report.stats import bootstrap_ci, paired_bootstrap

__all__ = ["Analysis", "Group", "analyze", "bootstrap_ci", "group_runs", "load_runs", "paired_bootstrap",
           "runs_frame", "summary_frame"]

_LAZY = {
    "bar_chart": "charts", "params_chart": "charts", "cost_chart": "charts", "seed_chart": "charts",
    "drop_chart": "charts", "confusion_chart": "charts", "save_figure": "charts", "confusion_counts": "confusion",
    "render_html": "html", "build_report": "build", "tables_for": "tables",
}


def __getattr__(name: str):
    """Charts, HTML and the report builder load matplotlib/jinja2 only when first used."""
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f"fsabench.report.{_LAZY[name]}"), name)
    raise AttributeError(name)
