"""The Python API: what `fsabench` commands do, as functions a notebook or script can call.

    import fsabench
    results = fsabench.evaluate("baseline:gold", "fsa")          # list[RunResult], nothing written
    results[0].scores["all"].f1                                   # 100.0
    fsabench.evaluate("hf:./runs/student", ["atsa-rest14"], output_dir="results", batch_size=32)

Importing this module never imports torch, transformers or litellm; a model's libraries load when it runs.
Every check the CLI makes (task and gold validation, resume keys, cache, output folder) lives here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from fsabench.models.base import ModelAdapter
from fsabench.options import EvalOptions, split_model_options
from fsabench.results import RunResult
from fsabench.tasks.spec import TaskSpec

PathLike = str | Path


def evaluate(model: str | ModelAdapter, tasks: str | Sequence[str], *, limit: int | None = None, seed: int = 0,
             num_shots: int = 0, scoring: str = "generate", output_dir: PathLike | None = None, cache: bool = True,
             overwrite: bool = False, cache_dir: PathLike | None = None, max_cost: float | None = None,
             data_dir: PathLike | None = None, tasks_dir: Sequence[PathLike] = (), progress=None,
             **model_options: Any) -> list[RunResult]:
    """Run `tasks` (names or groups, a list or 'a,b') on `model` and return one RunResult per task.

    `model` is a model string (`hf:PATH`, `litellm:openai/gpt-4o-mini`, `baseline:lexicon`, ...) or an
    adapter object living in your process (see `fsabench.models.base.ModelAdapter`). `model_options` are
    the adapter settings (batch_size, device, dtype, max_new_tokens, concurrency, api_base, timeout,
    max_retries, prompt_style, threads, gguf_file, engine_bin, engine_args, launch). With `output_dir`, each result is written to
    `output_dir/<model>/<task>.json`, and a stored result is reused only when it was made with the same
    model, data, task definition and settings. Failed requests are recorded in `result.usage.failed`.
    `progress(task, done, total)` is called between chunks.
    """
    from fsabench.evaluation import evaluate_tasks

    options = EvalOptions(limit=limit, seed=seed, num_shots=num_shots, scoring=scoring,
                          output_dir=Path(output_dir) if output_dir is not None else None, overwrite=overwrite,
                          cache=cache, cache_dir=Path(cache_dir) if cache_dir is not None else None,
                          max_cost=max_cost, data_dir=Path(data_dir) if data_dir is not None else None,
                          tasks_dir=tuple(str(d) for d in tasks_dir), model=split_model_options(model_options))
    return evaluate_tasks(model, tasks, options, progress)


def score(task: str | TaskSpec, predictions: Mapping[str, str] | PathLike, *, model_name: str = "external:predictions",
          data_dir: PathLike | None = None, tasks_dir: Sequence[PathLike] = ()) -> RunResult:
    """Score outputs made anywhere else (id -> raw model text, or a JSONL file of {"id", "output"}) exactly as
    `evaluate` would; every test id must be answered once."""
    from fsabench.external import score_predictions

    return score_predictions(task, predictions, model_name=model_name, data_dir=data_dir, tasks_dir=tasks_dir)


def load_results(paths: PathLike | Iterable[PathLike]) -> list[RunResult]:
    """Every RunResult under the given files and folders (searched recursively), validated."""
    from fsabench.results import find_results, load_result

    items = [paths] if isinstance(paths, (str, Path)) else list(paths)
    return [load_result(p) for p in find_results(items)]


def report(results: Sequence[RunResult | PathLike], out_dir: PathLike, *, formats: str | Sequence[str] = "md,csv,json",
           baseline: str | None = None, preset: str | None = None, figures: str = "none", bootstrap: int = 1000,
           labels=None):
    """Tables (and optional figures) from results or result files into `out_dir`; returns the built report.
    `labels` is a labels.yaml path or a `fsabench.report.labels.Labels` (model display names)."""
    import tempfile

    from fsabench.report.build import build_report
    from fsabench.results import save_result

    fmt = formats if isinstance(formats, str) else ",".join(formats)
    paths = [Path(r) for r in results if not isinstance(r, RunResult)]
    objects = [r for r in results if isinstance(r, RunResult)]
    with tempfile.TemporaryDirectory(prefix="fsabench-report-") as tmp:
        for index, result in enumerate(objects):
            save_result(result, Path(tmp) / f"{index:05d}.json")
        from fsabench.report.labels import Labels, load_labels

        names = labels if isinstance(labels, Labels) or labels is None else load_labels(labels)
        return build_report(paths + ([Path(tmp)] if objects else []), Path(out_dir), formats=fmt,
                            baseline=baseline, preset=preset, figure_formats=figures, n_boot=bootstrap,
                            labels=names)


def tasks(tasks_dir: Sequence[PathLike] = ()) -> list[str]:
    """Names of every task on the search path (built-in, --tasks-dir, FSABENCH_TASKS_PATH)."""
    from fsabench.tasks.registry import build_registry

    return sorted(build_registry([str(d) for d in tasks_dir] or None).tasks)


def task(name: str, tasks_dir: Sequence[PathLike] = ()) -> TaskSpec:
    """One task's validated definition (`.definition_hash()` is what results record)."""
    from fsabench.tasks.registry import build_registry

    return build_registry([str(d) for d in tasks_dir] or None).spec(name)
