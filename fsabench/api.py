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
             convention: str | None = None, **model_options: Any) -> list[RunResult]:
    """Run `tasks` (names or groups, a list or 'a,b') on `model` and return one RunResult per task.

    `model` is a model string (`hf:PATH`, `litellm:openai/gpt-4o-mini`, `baseline:lexicon`, ...) or an
    adapter object living in your process (see `fsabench.models.base.ModelAdapter`). `model_options` are
    the adapter settings (batch_size, device, dtype, max_new_tokens, concurrency, api_base, timeout,
    max_retries, prompt_style, threads, gguf_file). With `output_dir`, each result is written to
    `output_dir/<model>/<task>.json`, and a stored result is reused only when it was made with the same
    model, data, task definition and settings. Failed requests are recorded in `result.usage.failed`.
    `progress(task, done, total)` is called between chunks. `convention="authors"` scores the triplet and
    quad tasks exactly as ABSA-QUAD's compute_f1_scores (published tables); the default is the capped one.
    """
    from fsabench.evaluation import evaluate_tasks

    options = EvalOptions(limit=limit, seed=seed, num_shots=num_shots, scoring=scoring,
                          output_dir=Path(output_dir) if output_dir is not None else None, overwrite=overwrite,
                          cache=cache, cache_dir=Path(cache_dir) if cache_dir is not None else None,
                          max_cost=max_cost, data_dir=Path(data_dir) if data_dir is not None else None,
                          tasks_dir=tuple(str(d) for d in tasks_dir), model=split_model_options(model_options),
                          convention=convention)
    return evaluate_tasks(model, tasks, options, progress)


def score(task: str | TaskSpec, predictions: Mapping[str, str] | PathLike, *, model_name: str = "external:predictions",
          data_dir: PathLike | None = None, tasks_dir: Sequence[PathLike] = (), convention: str | None = None) -> RunResult:
    """Score outputs made anywhere else (id -> raw model text, or a JSONL file of {"id", "output"}) exactly as
    `evaluate` would; every test id must be answered once. `convention`: as in `evaluate`."""
    from fsabench.external import score_predictions

    return score_predictions(task, predictions, model_name=model_name, data_dir=data_dir, tasks_dir=tasks_dir,
                             convention=convention)


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


def diff(a: PathLike | Sequence[RunResult] | RunResult, b: PathLike | Sequence[RunResult] | RunResult, *,
         tasks: str | Sequence[str] = (), bootstrap: int = 1000, alpha: float = 0.05,
         output: PathLike | None = None):
    """Compare two runs of the same tasks example by example (`fsabench diff A B`).

    `a` and `b` are result files or folders (one run per task each), or RunResults. Per task and subset:
    the examples right in A and wrong in B and the reverse, B - A with a paired bootstrap interval and
    p-value (the engine of `report`), and the flipped examples. Returns a `fsabench.report.diff.DiffReport`;
    `.regression` is True when B is significantly worse (B - A < 0, p < alpha) on any subset. With `output`
    (.md or .html) the page is written too. Different task definitions or example sets are refused.
    """
    from fsabench.evaluation import parse_names
    from fsabench.options import DiffOptions
    from fsabench.report.diff import diff_runs
    from fsabench.report.diffpage import write_diff

    options = DiffOptions(tasks=tuple(_expand_groups(parse_names(tasks))) if tasks else (), bootstrap=bootstrap,
                          alpha=alpha, output=Path(output) if output is not None else None)

    def side(value) -> tuple[list[RunResult], str]:
        if isinstance(value, RunResult):
            return [value], value.model.name
        if isinstance(value, (str, Path)):
            return load_results(value), str(value)
        runs = list(value)
        return runs, ", ".join(sorted({r.model.name for r in runs}))

    (runs_a, name_a), (runs_b, name_b) = side(a), side(b)
    report = diff_runs(runs_a, runs_b, options.tasks or None, options.bootstrap, options.alpha, (name_a, name_b))
    if options.output is not None:
        write_diff(report, options.output)
    return report


def _expand_groups(names: Sequence[str]) -> list[str]:
    """Group names (aste, fsa) become their tasks; any other name is kept (results may hold custom tasks)."""
    from fsabench.tasks.registry import build_registry

    registry = build_registry()
    out: list[str] = []
    for name in names:
        for task in (registry.expand([name]) if name in registry.groups else [name]):
            if task not in out:
                out.append(task)
    return out


def overlap(corpus: PathLike, *, tasks: str | Sequence[str] = "fsa", fields: str | Sequence[str] = "text",
            ngram: int = 13, min_words: int = 8, data_dir: PathLike | None = None,
            tasks_dir: Sequence[PathLike] = ()):
    """Test sentences (test and hard files) whose word n-grams occur in `corpus` (`fsabench tasks overlap`).

    The corpus (JSONL, a JSON array, CSV/TSV or text, optionally .gz) is streamed once; `fields` names the
    text field(s) of a record ('a,b' or a list). Returns a `fsabench.contamination.Overlap`;
    `.to_dict()["tasks"][task]["subsets"][subset]` gives n, checked, overlapping, percent and ids.
    """
    from fsabench.contamination import scan, task_sentences
    from fsabench.evaluation import parse_names, resolve_tasks
    from fsabench.options import OverlapOptions
    from fsabench.settings import data_dir as resolve_data_dir
    from fsabench.tasks.registry import build_registry

    names = tuple(parse_names(fields))
    options = OverlapOptions(corpus=Path(corpus), fields=names, tasks=",".join(parse_names(tasks)), ngram=ngram,
                             min_words=min_words, data_dir=Path(data_dir) if data_dir is not None else None,
                             tasks_dir=tuple(str(d) for d in tasks_dir))
    specs = resolve_tasks(options.tasks, build_registry(list(options.tasks_dir) or None))
    sentences = task_sentences(specs, resolve_data_dir(options.data_dir))
    return scan(options.corpus, options.fields, sentences, options.ngram, options.min_words)


def export_hub(results: PathLike | Sequence[PathLike | RunResult], output: PathLike, *, name: str | None = None,
               leaderboard: str | None = None, leaderboards_dir: PathLike | None = None,
               hub_dataset: str | None = None):
    """A model's results as Hugging Face model-card metadata (`fsabench export hub RESULTS -o DIR`).

    Writes `DIR/README.md` whose front matter is the Hub's `model-index` (one item per task; every subset's
    F1/P/R or accuracy/macro-F1, x100, seed-averaged), with `verified: true` on tasks a passing audit of
    `leaderboard` backs (the audit names the model and its sampled outputs are these results' outputs).
    With `hub_dataset` (ORG/NAME of a Benchmark dataset on the Hub) also `.eval_results/<task>.yaml`.
    Results of more than one model are refused. Returns a `fsabench.export.hub.HubExport`.
    """
    from fsabench.errors import FsabenchError
    from fsabench.export.hub import HubExport, audited_tasks, eval_results_files, model_index, write_hub
    from fsabench.options import HubExportOptions

    options = HubExportOptions(output=Path(output), name=name, leaderboard=leaderboard,
                               leaderboards_dir=Path(leaderboards_dir) if leaderboards_dir else None,
                               hub_dataset=hub_dataset)
    items = [results] if isinstance(results, (str, Path, RunResult)) else list(results)
    runs = [r for r in items if isinstance(r, RunResult)] + load_results([r for r in items if not isinstance(r, RunResult)])
    models = sorted({r.model.name for r in runs})
    if len(models) != 1:
        raise FsabenchError(f"export hub: the results hold {len(models)} models ({', '.join(models[:3]) or 'none'})",
                            hint="pass the results of one model (one folder of `fsabench run -o`)")
    verified: dict[str, str] = {}
    if options.leaderboard:
        from fsabench.leaderboard.audit import read_audit
        from fsabench.leaderboard.spec import load_leaderboard

        board = load_leaderboard(options.leaderboard, options.leaderboards_dir)
        audits = [read_audit(p) for p in sorted((board.root / "audits").glob("*.json"))]
        verified = audited_tasks(runs, audits)
    export = HubExport(models[0], model_index(runs, options.name or models[0], verified), sorted(verified))
    if options.hub_dataset:
        export.eval_results = eval_results_files(runs, options.hub_dataset, verified)
    export.files = write_hub(export, options.output)
    return export
