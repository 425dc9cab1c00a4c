"""Reports from RunResult files: seed-aggregated tables, statistics, charts and one HTML page.

Public API (also used by the leaderboard); see docs/report.md:

    results = load_runs(["runs/"])                  # list[RunResult]; bad files raise ResultError
    frame = summary_frame(results, baseline=None)   # tidy pandas frame, one row per score
    analysis = analyze(results)                     # groups, flags, summary, runs and tests frames
    fig = bar_chart(analysis.summary, task="atsa-rest14")   # a matplotlib Figure (Agg, no pyplot)
    html = render_html(tables_for(analysis), figures, analysis.flags)
    build_report(["runs/"], "report/", baseline="baseline:lexicon")  # what `fsabench report` does
    labels = load_labels("labels.yaml")             # model string -> display name / colour (the site uses it too)
    display_name("hf:/x/SmolLM2-135M-Instruct.gguf", labels), model_colors(models, labels)

Names resolve lazily, so importing this package loads neither pandas nor matplotlib.
"""

from __future__ import annotations

import sys as _sys
import types as _types
from importlib import import_module

_LAZY = {
    "load_runs": "loading", "group_runs": "loading", "Group": "loading",
    "analyze": "frames", "Analysis": "frames", "summary_frame": "frames", "runs_frame": "frames",
    "bootstrap_ci": "stats", "paired_bootstrap": "stats",
    "tables_for": "tables", "Table": "tables", "to_markdown": "tables", "to_latex": "tables",
    "bar_chart": "charts", "params_chart": "charts", "cost_chart": "charts", "seed_chart": "charts",
    "drop_chart": "charts", "confusion_chart": "charts", "save_figure": "charts", "figure_bytes": "charts",
    "confusion_counts": "confusion", "render_html": "html", "InlineFigure": "html", "build_report": "build",
    "read_runs": "loading", "Labels": "labels", "load_labels": "labels", "parse_label_options": "labels",
    "display_name": "labels", "display_names": "labels", "default_name": "labels", "model_colors": "labels",
    "tick_overlaps": "charts", "scaling_chart": "charts", "paper_sections": "paper",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(f"fsabench.report.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'fsabench.report' has no attribute {name!r}")


class _CallableReport(_types.ModuleType):
    """`fsabench.report(...)`, the old name of `fsabench.build_report(...)`: kept callable for one release,
    whether or not this subpackage was imported first (the subpackage and the old function share a name)."""

    def __call__(self, *args, **kwargs):
        import warnings

        from fsabench.report.make import make_report

        warnings.warn("fsabench.report(...) is deprecated; call fsabench.build_report(...)", DeprecationWarning,
                      stacklevel=2)
        return make_report(*args, **kwargs)


_sys.modules[__name__].__class__ = _CallableReport
