"""A report from results in memory and/or result files: what `fsabench.build_report(...)` does."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fsabench.results import RunResult, save_result


def make_report(results: Sequence[RunResult | str | Path], out_dir: str | Path, *,
                formats: str | Sequence[str] = "md,csv,json", baseline: str | None = None,
                preset: str | None = None, figures: str = "none", bootstrap: int = 1000, labels: Any = None):
    """Tables (and optional figures) from results or result files into `out_dir`; returns the built report.
    `labels` is a labels.yaml path or a `fsabench.report.labels.Labels` (model display names)."""
    from fsabench.report.build import build_report
    from fsabench.report.labels import Labels, load_labels

    from fsabench.io import as_path

    fmt = formats if isinstance(formats, str) else ",".join(formats)
    if isinstance(results, (str, Path, RunResult)):
        results = [results]
    if not isinstance(results, (list, tuple)):
        from fsabench.errors import FsabenchError

        raise FsabenchError(f"results must be a list of RunResults or result paths, not {type(results).__name__}",
                            hint="e.g. build_report(fsabench.evaluate(...), 'report/')")
    paths = [as_path(r, "results") for r in results if not isinstance(r, RunResult)]
    objects = [r for r in results if isinstance(r, RunResult)]
    out_dir = as_path(out_dir, "out_dir")
    names = labels if isinstance(labels, Labels) or labels is None else load_labels(labels)
    with tempfile.TemporaryDirectory(prefix="fsabench-report-") as tmp:
        for index, result in enumerate(objects):
            save_result(result, Path(tmp) / f"{index:05d}.json")
        return build_report(paths + ([Path(tmp)] if objects else []), Path(out_dir), formats=fmt,
                            baseline=baseline, preset=preset, figure_formats=figures, n_boot=bootstrap,
                            labels=names)
